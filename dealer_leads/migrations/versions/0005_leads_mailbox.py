"""leads mailbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 18:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# As Lead.__table_args__ writes it (dealer_leads/leads/models.py UNFORWARDED).
UNFORWARDED = (
    "forwarded_at IS NULL AND merged_into_id IS NULL"
    " AND department IN ('service', 'parts', 'finance')"
)


def upgrade():
    op.create_table(
        "mailbox_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=400), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailbox_states")),
        sa.UniqueConstraint("mailbox", name=op.f("uq_mailbox_states_mailbox")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=True))
    # Department leads received before forwarding existed were handled by people in the queue:
    # the forwarding job must not send the whole backlog to the departments on its first run.
    op.execute(
        "UPDATE leads SET forwarded_at = received_at"
        " WHERE department IN ('service', 'parts', 'finance')"
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leads_unforwarded",
            ["department", "received_at", "id"],
            unique=False,
            sqlite_where=sa.text(UNFORWARDED),
            postgresql_where=sa.text(UNFORWARDED),
        )


def downgrade():
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_unforwarded")
        batch_op.drop_column("forwarded_at")
    op.drop_table("mailbox_states")
