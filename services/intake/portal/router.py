"""The portal's routes, under /portal: one module per group of PARS screens."""

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from intake.portal import add_learner, listings, register_activity, signing_in, uploads
from intake.portal.pages import CsrfRefused, SignInNeeded, refuse_csrf, to_sign_in

router = APIRouter(prefix="/portal", include_in_schema=False)
router.include_router(signing_in.router)
router.include_router(listings.router)
router.include_router(add_learner.router)
router.include_router(uploads.router)
router.include_router(register_activity.router)


def mount_portal(app: FastAPI) -> None:
    """The routes, the vendored assets (no CDN at run time), and the two answers every page may give instead."""
    app.include_router(router)
    app.mount("/portal/static", StaticFiles(packages=[("intake.portal", "static")]), name="portal-static")
    app.add_exception_handler(SignInNeeded, to_sign_in)
    app.add_exception_handler(CsrfRefused, refuse_csrf)
