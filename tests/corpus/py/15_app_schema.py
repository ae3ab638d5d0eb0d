"""Helpdesk service: the kind of schema.py a real service carries."""
from mig.dsl import *


@AutoIncPK("id")
@Unique("slug")
class Organization:
    id: int
    slug: str
    name: str


@AutoIncPK("id")
@Unique("email")
@OnDeleteCascade("organization")
@Default("active", 1)
@SelectBy("organization")
@SelectOneBy("email")
class Agent:
    id: int
    organization: Organization
    email: str
    full_name: str
    active: int


@AutoIncPK("id")
@Unique("organization", "email")
@Index("email")
@SelectLike("name")
class Customer:
    id: int
    organization: Organization
    email: str
    name: str


class CustomerContact(Union):  # optional contact channels, one extension table each
    WithPhone = Case(Customer, phone=str)
    WithSlackHandle = Case(Customer, handle=str, workspace=str)


@AutoIncPK("id")
@Default("status", "open")
@Default("priority", "3")
@DefaultExpr("opened_at", "datetime('now')")
@OnDeleteSetNull("assignee")
@Index("status", "priority")
@Index("assignee")
@SelectBy("status", order_by="priority ASC, openedAt DESC")
@UpdateBy("id")
@DeleteBy("id")
class Ticket:
    id: int
    customer: Customer
    assignee: Agent | None
    subject: str
    status: str
    priority: int
    opened_at: str
    closed_at: str | None


@AutoIncPK("id")
@OnDeleteCascade("ticket")
@DefaultExpr("posted_at", "datetime('now')")
@Index("ticket", "posted_at")
class TicketComment:
    id: int
    ticket: Ticket
    author: Agent | None
    body: str
    posted_at: str


@PK("name")
class Tag:
    name: str
    colour: str


@Unique("ticket", "tag")
@OnDeleteCascade("ticket")
@OnDeleteCascade("tag")
@InsertOrIgnore
class TicketTag:
    ticket: Ticket
    tag: Tag


# Assigned tickets with customer and agent (inner joins).
@View
@Join(Ticket, Customer)
@Join(Ticket, Agent)
@SelectBy("agentEmail")
class TicketBoard:
    ticket_id: int
    subject: str
    status: str
    customer_name: str
    agent_email: str


@ViewSql("""
SELECT a.id AS agent_id,
       a.full_name AS agent_name,
       COUNT(t.id) AS open_tickets
FROM agent a
LEFT JOIN ticket t ON t.assignee_id = a.id AND t.status = 'open'
GROUP BY a.id, a.full_name
""")
class AgentWorkload:
    agent_id: int
    agent_name: str
    open_tickets: int


# Reference data shipped with the schema.
acme = Organization(id=1, slug="acme", name="Acme Ltd")

tags = [
    Tag(name="billing", colour="#d73a4a"),
    Tag(name="bug", colour="#a2eeef"),
    Tag(name="question", colour="#0075ca"),
]

ana = Agent(id=1, organization=acme, email="ana@acme.test", full_name="Ana Lima", active=1)
bo = Customer(id=1, organization=acme, email="bo@client.test", name="Bo Berg")

invoice_missing = Ticket(id=1, customer=bo, assignee=ana, subject="Invoice missing", status="open",
                         priority=2, opened_at="2026-01-05 09:00:00", closed_at=None)
login_loop = Ticket(id=2, customer=bo, assignee=None, subject="Login loop", status="open",
                    priority=1, opened_at="2026-01-06 14:30:00", closed_at=None)

ticket_tags = [
    TicketTag(ticket=invoice_missing, tag=Tag(name="billing", colour="#d73a4a")),
    TicketTag(ticket=login_loop, tag=tags[1]),
]
