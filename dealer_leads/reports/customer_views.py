"""The customer database: search, history across leads, appointments and purchases; export."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, stream_with_context

from dealer_leads.auth.models import SUPERVISING_ROLES
from dealer_leads.auth.services import role_required
from dealer_leads.database import now_utc
from dealer_leads.leads.normalize import whole_number
from dealer_leads.reports import customers, exports

bp = Blueprint("customers", __name__)


def _page_arg() -> int:
    value = request.args.get("page", "1").strip()
    page = whole_number(value)
    if page is None or not 1 <= page <= 10_000:
        abort(400, "page must be a number from 1 to 10000")
    return page


@bp.get("/customers")
@role_required(*SUPERVISING_ROLES)
def index():
    """Customers."""
    query = request.args.get("q", "")
    if len(query) > customers.MAX_QUERY:
        abort(400, f"the search is too long (at most {customers.MAX_QUERY} characters)")
    page = _page_arg()
    rows, more = customers.search_customers(query, page)
    return render_template("reports/customers.html", rows=rows, more=more, page=page, q=query)


@bp.get("/customers/<int:customer_id>")
@role_required(*SUPERVISING_ROLES)
def detail(customer_id: int):
    """One customer's history."""
    try:
        history = customers.get_history(customer_id)
    except customers.CustomerNotFound as error:
        abort(404, str(error))
    return render_template("reports/customer.html", history=history)


@bp.get("/customers/export.csv")
@role_required(*SUPERVISING_ROLES)
def export():
    """Every customer as CSV for the other departments, opted-out channels left out."""

    def lines():
        yield exports.to_csv(customers.EXPORT_HEADER, [])
        batch = []
        for row in customers.export_rows():
            batch.append(row)
            if len(batch) == 1000:
                yield exports.to_csv_rows(batch)
                batch = []
        yield exports.to_csv_rows(batch)

    filename = f"customers-{now_utc():%Y-%m-%d}.csv"
    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
