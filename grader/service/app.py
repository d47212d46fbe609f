"""The HTTP API: handlers check who asks and what they send, then enqueue or read; they never
grade. What may wait on the disk (a commit, a sync, reading a notebook) runs in threads, so the
event loop answers `/healthz` and uploads while every sandbox worker is busy; the token lookup,
one indexed read that never waits for a writer (WAL), runs in the loop."""

import math
from typing import Annotated, Any

from anyio import CapacityLimiter, to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.exceptions import HTTPException

import grader
from grader.service.callbacks import encode
from grader.service.errors import ApiError
from grader.service.gradebook import gradebook_lines
from grader.service.layout import status_document
from grader.service.records import Role, Status, Token
from grader.service.service import Service
from grader.service.upload import receive_form

# The report is the student's code and messages, escaped; this keeps a browser from running or
# fetching anything, should an escape ever be missed.
REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "X-Content-Type-Options": "nosniff",
}
NOT_GRADED_RETRY_SECONDS = 5
STORING_THREADS = 4
UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "the notebook (.ipynb) or exported script (.py)",
                        },
                        "student": {
                            "type": "string",
                            "description": "the student's id in the LMS (default: the file "
                            "name without its suffix)",
                        },
                        "lang": {
                            "type": "string",
                            "enum": ["en", "zh_CN"],
                            "description": "the language of the report and of results.json's "
                            "texts: en (English, the default) or zh_CN (Simplified Chinese)",
                        },
                        "callback_url": {
                            "type": "string",
                            "format": "uri",
                            "description": "POSTed the submission's document when it is done; "
                            "its host must be allowed with --callback-allow",
                        },
                    },
                }
            }
        },
    }
}


class ErrorBody(BaseModel):
    error: str
    message: str


class Accepted(BaseModel):
    id: str
    status: Status
    assignment: str
    student: str
    lang: str


class SubmissionDocument(Accepted):
    results: dict[str, Any] | None


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in (401, 429, *statuses)}


def create_app(service: Service) -> FastAPI:
    """The application over a started `service`."""
    app = FastAPI(
        title="grader",
        version=grader.__version__,
        description="Upload a notebook, get its grade and report back. Every /v1 request "
        "carries `Authorization: Bearer TOKEN`, a token from `grader token create`.",
    )
    bearer = HTTPBearer(auto_error=False, description="a token from `grader token create`")

    Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

    # Uploads are stored a few at a time: more threads would only take turns at the write lock
    # and the interpreter lock, and switching between them costs more than it overlaps.
    storing = CapacityLimiter(STORING_THREADS)

    async def caller(credentials: Credentials) -> Token:
        """The token the request carries, if it is live and within its rate."""
        challenge = {"WWW-Authenticate": "Bearer"}
        if credentials is None:
            raise ApiError(
                401,
                "missing_token",
                "Send `Authorization: Bearer TOKEN`, with a token the service's operator "
                "created with `grader token create`.",
                challenge,
            )
        token = service.authenticate(credentials.credentials)
        if token is None:
            raise ApiError(
                401,
                "unknown_token",
                "This token is unknown or revoked: ask the service's operator for a new one.",
                challenge,
            )
        wait = service.limiter.wait_needed(token.id)
        if wait:
            seconds = math.ceil(wait)
            raise ApiError(
                429,
                "rate_limited",
                f"Too many requests with this token: wait {seconds} s (Retry-After), then send "
                "the request again.",
                {"Retry-After": str(seconds)},
            )
        return token

    # Annotations are evaluated as the handlers are defined (no `from __future__ import
    # annotations` here): FastAPI reads these local aliases from them.
    Caller = Annotated[Token, Depends(caller)]

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error.body(), error.status, headers=error.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 404:
            body = ErrorBody(error="not_found", message="No such endpoint: /docs lists the API.")
        elif error.status_code == 405:
            body = ErrorBody(
                error="method_not_allowed",
                message=f"{request.method} is not allowed here: /docs lists the API.",
            )
        else:
            body = ErrorBody(error="http_error", message=str(error.detail))
        return JSONResponse(body.model_dump(), error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', '')}" for e in error.errors()
        )
        body = ErrorBody(error="invalid_request", message=f"The request is malformed: {problems}")
        return JSONResponse(body.model_dump(), 422)

    @app.get("/healthz", tags=["service"], summary="200 while the service accepts work")
    async def healthz() -> JSONResponse:
        if not service.accepting:
            return JSONResponse({"status": "stopping"}, 503)
        return JSONResponse({"status": "ok", "assignments": sorted(service.assignments)})

    @app.get("/v1/assignments", tags=["assignments"], responses=_errors())
    def assignments(token: Caller) -> list[dict[str, Any]]:
        """The served assignments: the names to upload to, their titles and points."""
        return [
            {"name": a.name, "title": a.title, "max_score": a.max_score, "points": a.points}
            for a in service.assignments.values()
        ]

    @app.post(
        "/v1/assignments/{assignment}/submissions",
        tags=["submissions"],
        status_code=202,
        response_model=Accepted,
        responses={
            200: {"model": Accepted, "description": "the same bytes were uploaded before"},
            **_errors(404, 413, 415, 422, 503),
        },
        openapi_extra=UPLOAD_FORM,
    )
    async def upload(assignment: str, request: Request, token: Caller) -> Any:
        """Queue a notebook for grading; the answer's `id` (and `Location`) is how to follow it.

        Uploading the same bytes again for the same student answers the first submission."""
        service.assignment(assignment)
        if not service.accepting:
            raise ApiError(503, "stopping", "The service is stopping: upload again shortly.")
        settings = service.settings
        form = await receive_form(request, service.layout.uploads, settings.max_upload)
        record, created = await to_thread.run_sync(
            service.accept, assignment, form, token, limiter=storing
        )
        return JSONResponse(
            {
                "id": record.id,
                "status": record.status.value,
                "assignment": record.assignment,
                "student": record.student,
                "lang": record.lang,
            },
            202 if created else 200,
            headers={"Location": f"/v1/submissions/{record.id}"},
        )

    @app.get(
        "/v1/submissions/{submission_id}",
        tags=["submissions"],
        response_model=SubmissionDocument,
        responses=_errors(404),
    )
    def submission(submission_id: str, token: Caller) -> Response:
        """Where a submission is; once `done`, its `results` (the results.json document)."""
        record = service.visible_submission(token, submission_id)
        document = status_document(service.layout, record)
        return Response(encode(document), media_type="application/json")

    @app.get(
        "/v1/submissions/{submission_id}/report",
        tags=["submissions"],
        response_class=FileResponse,
        responses=_errors(404, 409),
    )
    def report(submission_id: str, token: Caller) -> FileResponse:
        """The student's HTML report (self-contained: no script, no external asset)."""
        record = service.visible_submission(token, submission_id)
        if record.status is not Status.DONE:
            raise ApiError(
                409,
                "not_graded_yet",
                f"Submission {record.id} is {record.status.value}: its report exists once it "
                "is done. Wait for the callback, or poll GET /v1/submissions/{id}.",
                {"Retry-After": str(NOT_GRADED_RETRY_SECONDS)},
            )
        return FileResponse(
            service.layout.report(record),
            media_type="text/html; charset=utf-8",
            headers=REPORT_HEADERS,
        )

    @app.get(
        "/v1/assignments/{assignment}/gradebook.csv",
        tags=["assignments"],
        response_class=StreamingResponse,
        responses=_errors(403, 404),
    )
    def gradebook(assignment: str, token: Caller) -> StreamingResponse:
        """Instructors: per student, the latest graded upload, a column per function."""
        if token.role is not Role.INSTRUCTOR:
            raise ApiError(
                403,
                "instructors_only",
                "The gradebook is for instructor tokens; this token may upload and see its own "
                "submissions only.",
            )
        served = service.assignment(assignment)
        return StreamingResponse(
            gradebook_lines(service.store, service.layout, served),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{served.name}.csv"'},
        )

    return app
