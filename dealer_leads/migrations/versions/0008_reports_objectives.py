"""reports objectives

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 18:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

MERGED = "merged_into_id IS NOT NULL"


def upgrade():
    op.create_table(
        "objectives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("metric", sa.String(length=12), nullable=False),
        sa.Column("advisor_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["users.id"], name=op.f("fk_objectives_advisor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_objectives_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objectives")),
        sa.UniqueConstraint(
            "month", "metric", "advisor_id", name=op.f("uq_objectives_month_metric_advisor_id")
        ),
    )
    # Sales of a month are read from the status lines of the timeline by kind and time.
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.create_index("ix_lead_events_kind_at", ["kind", "at"], unique=False)
    # Person tasks due in a range, whatever their state: the missed-steps figures.
    with op.batch_alter_table("touches", schema=None) as batch_op:
        batch_op.create_index("ix_touches_due_at", ["due_at"], unique=False)
    # The few merged leads, whose appointments and tasks the reports credit to the survivor.
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leads_merged_into_id",
            ["merged_into_id"],
            unique=False,
            sqlite_where=sa.text(MERGED),
            postgresql_where=sa.text(MERGED),
        )


def downgrade():
    with op.batch_alter_table("touches", schema=None) as batch_op:
        batch_op.drop_index("ix_touches_due_at")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_merged_into_id")
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_events_kind_at")
    op.drop_table("objectives")
