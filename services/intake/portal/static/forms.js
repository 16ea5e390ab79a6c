// The live parts of the portal's forms (Add Learner, Upload Learner Batch File, Register Activity). Each form works
// without this script; with it, errors are focused, the learner is matched while typing, and an upload shows its
// progress.
"use strict";

(() => {
  const post = (url, body, headers = {}) => fetch(url, {
    method: "POST", credentials: "same-origin", body,
    headers: {"X-CSRF-Token": window.parsCsrf(), Accept: "application/json", ...headers},
  });

  // An answer with errors: the summary (role=alert) is read first and takes the focus.
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  // Add Learner: "Learner Matched" / "Learner Not Matched" while typing, asking for the fields that would help.
  const entry = document.querySelector("form[data-match-url]");
  if (entry) {
    const out = document.getElementById("match");
    // The matcher's field names, as this form names its inputs.
    const inputs = {first_name: "first_name", last_name: "last_name", dob: "dob", npi: "npi",
                    medical_school: "medical_school", state: "cme_state", license_id: "cme_license_id"};
    const value = (name) => ((entry.elements[name] || {}).value || "").trim();
    const labelOf = (name) => {
      const label = entry.querySelector(`label[for="f-${name}"]`);
      return label ? label.textContent.replace("*", "").trim() : name.replace("_", " ");
    };
    const query = () => {
      const q = {};
      for (const [field, input] of Object.entries(inputs)) if (value(input)) q[field] = value(input);
      for (const box of entry.querySelectorAll('input[name="moc"]:checked')) {
        const id = value(`moc_${box.value}_board_id`);
        if (id) { q.board = box.value; q.board_id = id; break; }
      }
      return q;
    };
    const show = (text, kind) => { out.textContent = text; out.className = `match ${kind}`; };
    let timer = 0;
    let asked = 0;
    const ask = async () => {
      const q = query();
      if (!(q.last_name || q.npi || q.board_id || q.license_id)) { show("", ""); return; }
      const mine = ++asked;
      try {
        const answer = await post(entry.dataset.matchUrl, JSON.stringify(q), {"Content-Type": "application/json"});
        const body = await answer.json();
        if (mine !== asked) return;  // a later keystroke asked again
        if (!answer.ok) { show(`Matching: ${(body.error || {}).message || "not available"}`, "not-matched"); return; }
        if (body.matched) {
          const l = body.learner;
          show(`Learner Matched: ${l.first_name} ${l.last_name}${l.npi ? `, NPI ${l.npi}` : ""}`, "matched");
          return;
        }
        // NPI and medical school first: they tell apart learners the name alone cannot.
        const need = (body.need || []).filter((n) => n === "npi" || n === "medical_school")
          .concat((body.need || []).filter((n) => n !== "npi" && n !== "medical_school"))
          .filter((n) => inputs[n]).slice(0, 2).map((n) => labelOf(inputs[n]));
        show(`Learner Not Matched${body.reason ? `: ${body.reason}` : "."}` +
             (need.length ? ` Adding the ${need.join(" or the ")} would help.` : ""), "not-matched");
      } catch (_) {
        if (mine === asked) show("Matching is not available right now; the record can still be sent.", "not-matched");
      }
    };
    entry.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 400); });
    if (value("last_name")) ask();
  }

  // Upload Learner Batch File: drop or choose, send with progress, then follow the batch.
  const upload = document.querySelector("form[data-upload]");
  if (upload) {
    const file = upload.elements.file;
    const zone = upload.querySelector(".dropzone");
    const sending = document.getElementById("upload-progress");
    const status = document.getElementById("upload-status");
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files.length) {
        file.files = e.dataTransfer.files;
        status.textContent = `Chosen: ${file.files[0].name}. Press Upload to send it.`;
      }
    });
    upload.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!file.files.length) { status.textContent = "Choose a batch file (.xlsx, .txt or .xml) first."; file.focus(); return; }
      // XMLHttpRequest, not fetch: only it reports an upload's progress.
      const xhr = new XMLHttpRequest();
      xhr.open("POST", upload.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", window.parsCsrf());
      sending.hidden = false;
      sending.value = 0;
      xhr.upload.addEventListener("progress", (p) => {
        if (p.lengthComputable) sending.value = Math.round((100 * p.loaded) / p.total);
        status.textContent = `Sending ${file.files[0].name}: ${sending.value}%`;
      });
      xhr.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON: the message below */ }
        if (xhr.status === 202 && body.page) { window.location.assign(body.page); return; }
        sending.hidden = true;
        status.textContent = `Not uploaded: ${(body.error || {}).message || `the server answered ${xhr.status}`}`;
        status.setAttribute("role", "alert");
      });
      xhr.addEventListener("error", () => { status.textContent = "Not uploaded: the server could not be reached."; });
      xhr.send(new FormData(upload));
    });
  }

  // A batch being validated: its bar and tallies follow the records' outcomes until it is complete.
  const batch = document.querySelector("section[data-batch-id]");
  if (batch && batch.dataset.status === "processing") {
    const bar = document.getElementById("batch-progress");
    const tallies = document.getElementById("batch-tallies");
    const files = document.getElementById("batch-files");
    const follow = async () => {
      try {
        const answer = await fetch(`/portal/uploads/${batch.dataset.batchId}/progress`, {credentials: "same-origin"});
        const b = await answer.json();
        if (answer.ok) {
          const done = b.added + b.rejected;
          bar.max = b.records || 1;
          bar.value = done;
          if (b.status === "complete") {
            tallies.textContent = `Complete: ${b.records} records, ${b.added} added, ${b.rejected} rejected.`;
            files.hidden = false;
            batch.dataset.status = "complete";
            const row = document.querySelector(`tr[data-batch-id="${b.batch_id}"]`);
            if (row) {  // the history's row says the same
              row.cells[2].textContent = b.status;
              row.cells[4].textContent = b.added;
              row.cells[5].textContent = b.rejected;
              row.querySelector("td.files").replaceChildren(...[...files.querySelectorAll("a")].flatMap(
                (a, i) => (i ? [" · ", a.cloneNode(true)] : [a.cloneNode(true)])));
            }
            return;
          }
          tallies.textContent = `Validating: ${done} of ${b.records} records checked, ${b.added} added, ` +
            `${b.rejected} rejected.`;
        }
      } catch (_) { /* asked again below */ }
      setTimeout(follow, 700);
    };
    follow();
  }
})();
