"""Small builders of OpenAPI fragments the paths and the components share."""

from __future__ import annotations


def text(max_length: int, description: str = "") -> dict:
    """A string schema with a maximum length."""
    schema: dict = {"type": "string", "maxLength": max_length}
    if description:
        schema["description"] = description
    return schema


def ref(name: str) -> dict:
    """A reference to a schema of the components."""
    return {"$ref": f"#/components/schemas/{name}"}


def error(description: str, headers: dict | None = None) -> dict:
    """A response with the error body."""
    response: dict = {
        "description": description,
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if headers:
        response["headers"] = headers
    return response


def shared(name: str) -> dict:
    """A reference to a response of the components."""
    return {"$ref": f"#/components/responses/{name}"}


def json_response(schema: str, description: str, headers: dict | None = None) -> dict:
    """A JSON response with the named schema."""
    response: dict = {
        "description": description,
        "content": {"application/json": {"schema": ref(schema)}},
    }
    if headers:
        response["headers"] = headers
    return response


def too_large(limit: str, setting: str, code: str = "payload_too_large") -> dict:
    """The 413 answer for a body over `limit`."""
    return error(f"The body is over {limit} ({setting}); code `{code}`")


CHALLENGE = {
    "WWW-Authenticate": {"description": "Bearer challenge (RFC 6750)", "schema": {"type": "string"}}
}
DATETIME = {"type": "string", "format": "date-time"}
NULLABLE_DATETIME = {**DATETIME, "nullable": True}
KEY_REFUSALS = {"401": shared("Unauthorized"), "403": shared("Forbidden")}


def query(name: str, schema: dict, description: str) -> dict:
    """An optional query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }
