"""The flagged-steps page (supervisors): touches whose outcome is unknown or that failed, and
what a person decides for each. Routes on the cadence blueprint."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from dealer_leads.auth.models import SUPERVISING_ROLES
from dealer_leads.auth.services import role_required
from dealer_leads.cadence import review, services
from dealer_leads.cadence.models import AUTOMATIC_CHANNELS, STEP_CHANNELS
from dealer_leads.cadence.views import bp
from dealer_leads.messaging.template_services import list_templates

DECISIONS = {
    "sent": (review.mark_sent, "Marked sent: it went out."),
    "dismiss": (review.dismiss, "Left as it is: it is not sent again."),
    "again": (review.send_again, "Sent again as a new step, due now."),
}


@bp.get("/tasks/flagged")
@role_required(*SUPERVISING_ROLES)
def flagged():
    return render_template(
        "cadence/flagged.html",
        touches=review.list_flagged(),
        total=review.count_flagged(),
        channels=STEP_CHANNELS,
        automatic=AUTOMATIC_CHANNELS,
        template_names={t.key: t.name for t in list_templates()},
    )


@bp.post("/tasks/flagged/<int:touch_id>/<any(sent, dismiss, again):decision>")
@role_required(*SUPERVISING_ROLES)
def review_flagged(touch_id: int, decision: str):
    action, success = DECISIONS[decision]
    try:
        action(current_user, touch_id)
    except review.FlaggedTouchNotFound:
        abort(404, f"There is no flagged step #{touch_id}.")
    except services.CadenceError as error:
        flash(f"Step #{touch_id} unchanged: {error}.", "error")
    else:
        flash(f"Step #{touch_id}: {success}", "success")
    return redirect(url_for("cadence.flagged"), 303)
