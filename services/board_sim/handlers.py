"""One board's desk: judges a batch of requests, remembers its answers, replies after the board's latency."""

from datetime import UTC, datetime

from board_sim.faults import CrashDice, deliveries
from board_sim.judging import judge, on_roster
from board_sim.ports import DeskStore
from board_sim.requests import BoardRequest
from shared.boards import Board
from shared.codes import ParsError
from shared.consumer import Delivery
from shared.events import BoardVerdict
from shared.ids import derived_id
from shared.logging import get_logger
from shared.metrics import count_board_verdicts
from shared.outbox import event_message
from shared.settings import Settings
from shared.topics import BOARD_RESPONSES

log = get_logger(__name__)


class BoardDesk:
    def __init__(self, code: str, store: DeskStore, settings: Settings) -> None:
        self.code = code
        self._store = store
        self._settings = settings
        self._crashes: CrashDice | None = None

    def _verdict(self, request: BoardRequest, board: Board, errors: list[ParsError]) -> BoardVerdict:
        return BoardVerdict(
            event_id=derived_id(request.request_id, f"pars:board-verdict:{request.request_id}"),
            request_id=request.request_id, board=board.code, action=request.action, accepted=not errors,
            errors=errors, record_id=request.record_id, submission_id=request.submission_id,
            provider_id=request.provider_id, correlation_id=request.correlation_id,
        )

    async def on_requests(self, batch: list[Delivery[BoardRequest]]) -> None:
        requests = [d.message for d in batch]
        async with self._store.transaction() as tables:
            board = (await tables.boards())[self.code]
            self._crashes = self._crashes or CrashDice(board.faults)
            given = await tables.answers(q.request_id for q in requests)
            roster = await tables.diplomates(self.code, (q.record.learner_id or "" for q in requests))
            named = await tables.diplomates_named(self.code, (q.record.last_name for q in requests
                                                              if q.record.learner_id_matched))
            book = await tables.ledger(self.code, ((q.record.learner_id or "", q.record.activity_id)
                                                   for q in requests))
            verdicts: list[tuple[BoardRequest, BoardVerdict]] = []
            new_verdicts: list[BoardVerdict] = []
            granted: list[BoardRequest] = []
            withdrawn: list[BoardRequest] = []
            for request in requests:
                if request.request_id in given:  # asked again: the first answer may have been lost
                    verdicts.append((request, given[request.request_id]))
                    continue
                diplomate = on_roster(request, board, roster.get(request.record.learner_id or ""), named)
                verdict = self._verdict(request, board, judge(request, board, diplomate, book))
                given[request.request_id] = verdict
                verdicts.append((request, verdict))
                new_verdicts.append(verdict)
                if verdict.accepted:
                    (granted if request.action == "add" else withdrawn).append(request)
            # Each verdict's JSON once, for the answers table and the message alike.
            encoded = {v.request_id: v.to_bytes() for _, v in verdicts}
            await tables.record_answers([(v, encoded[v.request_id]) for v in new_verdicts])
            await tables.grant(granted)
            await tables.withdraw(withdrawn)
            answer_at = board.answer_time(datetime.now(UTC), self._settings.board_latency_scale)
            topic = self._settings.topic(BOARD_RESPONSES.name)
            rows = await tables.enqueue([
                event_message(topic, v, str(v.record_id), at, value=encoded[v.request_id])
                for q, v in verdicts for at in deliveries(board.faults, q.event_id, answer_at)])
            self._crashes.roll()  # a crash here loses the whole batch's work: it is redelivered
        await self._store.publish(rows)  # answers due now leave at once; later ones are the relay's
        count_board_verdicts(new_verdicts)
        log.info("board answered", board=self.code, requests=len(requests), new=len(new_verdicts))
