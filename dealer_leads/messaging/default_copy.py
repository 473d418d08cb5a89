"""The shipped message templates and the sample merge fields the editor previews them with.

Written the way a good salesperson writes: short, from a person, about the customer's vehicle,
one clear next step. The plain text is the source; the HTML part is made from it (paragraphs,
the vehicle's photo and price, the signature), so both parts always say the same thing. The
footer (postal address, unsubscribe link) is added to every e-mail when it is built.
"""

from __future__ import annotations

HI = '{{ customer.first_name or "there" }}'
VEHICLE = '{{ vehicle.title or "vehicle you asked about" }}'

VEHICLE_CARD = """{% if vehicle.known %}
<div style="margin:16px 0;padding:12px;border:1px solid #ddd;border-radius:6px;max-width:480px">
{% if vehicle.photo_url %}<img src="{{ vehicle.photo_url }}" alt="{{ vehicle.title }}" \
width="480" style="display:block;width:100%;height:auto;margin-bottom:8px">{% endif %}
<strong>{{ vehicle.title }}</strong>{% if vehicle.price %} &middot; {{ vehicle.price }}{% endif %}
{% if vehicle.stock %}<br><span style="color:#666">Stock #{{ vehicle.stock }}\
{% if vehicle.odometer %} &middot; {{ vehicle.odometer }}{% endif %}</span>{% endif %}
</div>
{% endif %}"""

SIMILAR_TEXT = """{% for v in similar_vehicles %}- {{ v.title }}\
{% if v.price %}, {{ v.price }}{% endif %}{% if v.odometer %}, {{ v.odometer }}{% endif %}\
{% if v.stock %} (stock #{{ v.stock }}){% endif %}
{% endfor %}"""

SIMILAR_HTML = """<ul style="padding-left:0;list-style:none">
{% for v in similar_vehicles %}<li style="margin:0 0 12px">
{% if v.photo_url %}<img src="{{ v.photo_url }}" alt="{{ v.title }}" width="240" \
style="display:block;max-width:100%;height:auto">{% endif %}
<strong>{{ v.title }}</strong>{% if v.price %} &middot; {{ v.price }}{% endif %}\
{% if v.odometer %} &middot; {{ v.odometer }}{% endif %}\
{% if v.stock %}<br><span style="color:#666">Stock #{{ v.stock }}</span>{% endif %}</li>
{% endfor %}</ul>"""


def _html(text: str) -> str:
    """Blank-line paragraphs to <p>, line breaks to <br>; the copy has no HTML characters."""
    paragraphs = text.strip().split("\n\n")
    return "\n".join("<p>" + "<br>\n".join(p.splitlines()) + "</p>" for p in paragraphs)


def _email(
    key: str,
    name: str,
    subject: str,
    body: str,
    *,
    card: bool = False,
    signer: str = "advisor",
    middle: tuple[str, str] | None = None,
    after: str = "",
) -> dict:
    """An e-mail template: body, then (optionally) a list in both parts, then the signature."""
    text, html = body.strip(), _html(body)
    if middle:
        text += "\n\n" + middle[0].strip()
        html += "\n" + middle[1]
    if after:
        text += "\n\n" + after.strip()
        html += "\n" + _html(after)
    html += ("\n" + VEHICLE_CARD) if card else ""
    return {
        "key": key,
        "name": name,
        "channel": "email",
        "subject": subject,
        "body_text": f"{text}\n\n{{{{ {signer}.signature }}}}\n",
        "body_html": f'{html}\n<p style="color:#444">{{{{ {signer}.signature|nl2br }}}}</p>\n',
    }


def _sms(key: str, name: str, body: str) -> dict:
    return {
        "key": key,
        "name": name,
        "channel": "sms",
        "subject": "",
        "body_text": body.strip() + "\n",
        "body_html": "",
    }


DEFAULT_TEMPLATES: list[dict] = [
    _email(
        "auto_response",
        "Auto-response (open hours)",
        "Your inquiry about the " + VEHICLE,
        f"""Hi {HI},

Thank you for your inquiry about the {VEHICLE}. \
{{% if vehicle.in_stock %}}It's here on our lot\
{{% if vehicle.price %}} at {{{{ vehicle.price }}}}{{% endif %}}, ready to see and drive. \
{{% endif %}}\
I'll get back to you personally within the hour with the details.

If a call is easier, you can reach me directly at {{{{ advisor.phone }}}}\
{{% if booking_url %}}, or choose a time to come by: {{{{ booking_url }}}}{{% endif %}}.""",
        card=True,
    ),
    _email(
        "auto_response_after_hours",
        "Auto-response (after hours)",
        "Your inquiry about the " + VEHICLE,
        f"""Hi {HI},

Thank you for your inquiry about the {VEHICLE}. Our showroom is closed right now, \
so I wanted you to know it arrived safely: I'll reply first thing when we open.

If you already know when you would like to see it, \
{{% if booking_url %}}you can pick a time here: {{{{ booking_url }}}}\
{{% else %}}just reply with a day and time that suit you{{% endif %}}.""",
        card=True,
    ),
    _sms(
        "text_intro",
        "Text introduction (about 1 hour)",
        f"""Hi {HI}, it's {{{{ advisor.first_name }}}} at {{{{ dealership.name }}}}. \
Got your note about the {VEHICLE}. Would you like to see it this week? \
Reply STOP to opt out.""",
    ),
    _email(
        "day2_email",
        "Day 2 e-mail",
        "A few details on the " + VEHICLE,
        f"""Hi {HI},

I wanted to make sure you have what you need on the {VEHICLE}. \
People usually ask me three things: is it still available, what is the total price, \
and can I drive it. I'm happy to answer all three.

I can also send a short walk-around video, more photos, or a trade-in estimate. \
Which would help you most? Just reply to this e-mail or call me at {{{{ advisor.phone }}}}.""",
        card=True,
    ),
    _email(
        "similar_vehicles",
        "Day 5: similar vehicles in stock",
        "A few options like the " + VEHICLE,
        f"""Hi {HI},

In case the {VEHICLE} isn't quite the one, \
{{% if similar_vehicles %}}here are a few similar vehicles on our lot right now:\
{{% else %}}we get new arrivals every week.{{% endif %}}""",
        middle=(SIMILAR_TEXT, SIMILAR_HTML),
        after="""{% if similar_vehicles %}Does one of them catch your eye? \
Reply with the one you like and I'll have it ready when you come in.\
{% else %}Tell me what matters most to you (budget, features, colour) \
and I'll let you know as soon as the right one arrives.{% endif %}""",
    ),
    _email(
        "day10_email",
        "Day 10 e-mail",
        "Still looking for a " + '{{ vehicle.model or "vehicle" }}?',
        f"""Hi {HI},

It's been about a week and a half since you asked about the {VEHICLE}, \
so I wanted to check in. Has anything changed in your search?

If you have found something already, just let me know and I'll stop following up. \
If you are still deciding, I can set aside a time for a test drive, \
or answer your questions by e-mail, whichever is easier for you.""",
        card=True,
    ),
    _email(
        "manager_email",
        "Day 14: note from the sales manager",
        "Did we answer your questions?",
        f"""Hi {HI},

I manage the sales team at {{{{ dealership.name }}}}. \
{{% if advisor.assigned %}}{{{{ advisor.first_name }}}} has been looking after your inquiry \
about the {VEHICLE}, and I{{% else %}}I saw your inquiry about the {VEHICLE} and{{% endif %}} \
like to check in personally.

Did we answer everything you wanted to know? \
If there is anything we could have done better, I would like to hear it.

If you would rather talk to me directly, my number is {{{{ manager.phone }}}}.""",
        signer="manager",
    ),
    _email(
        "checkin_21",
        "Day 21 check-in",
        "Quick question, " + HI,
        f"""Hi {HI},

Are you still shopping for a {{{{ vehicle.model or "vehicle" }}}}? \
A one-word reply is perfect: yes, no, or later.

No pressure either way. It just helps me know whether to keep an eye out for you.""",
    ),
    _email(
        "checkin_30",
        "Day 30 check-in",
        "Checking in on your " + '{{ vehicle.model or "vehicle" }} search',
        f"""Hi {HI},

It's been a month since your inquiry about the {VEHICLE}. \
Prices and manufacturer offers change at the start of each month, \
so if you are still looking I can send you an updated price today.

Would that be useful? Reply here or call me at {{{{ advisor.phone }}}}.""",
    ),
    _email(
        "nurture_monthly",
        "Monthly note",
        "What's new at {{ dealership.name }}",
        f"""Hi {HI},

A short monthly note from {{{{ dealership.name }}}}. \
{{% if similar_vehicles %}}Here is what arrived recently that fits what you were looking for:\
{{% else %}}If you are still thinking about a {{{{ vehicle.model or "new vehicle" }}}}, \
I would be glad to tell you what's arrived since we last spoke.{{% endif %}}""",
        middle=(SIMILAR_TEXT, SIMILAR_HTML),
        after="Whenever you are ready, just reply and I'll take it from there.",
    ),
    _email(
        "trade_in_response",
        "Trade-in inquiry response",
        'About your {{ lead.trade_in or "trade-in" }}',
        f"""Hi {HI},

Thank you for telling us about your {{{{ lead.trade_in or "trade-in" }}}}. \
To give you a firm number rather than a guess, I would like to see it in person: \
the appraisal takes about 20 minutes and there is no obligation.

Please bring the ownership, both keys and any service records you have.

When would suit you? \
{{% if booking_url %}}You can choose a time here: {{{{ booking_url }}}}\
{{% else %}}Reply with a day and time{{% endif %}}, or call me at {{{{ advisor.phone }}}}.""",
    ),
    _email(
        "appointment_confirmation",
        "Appointment confirmation",
        "Confirmed: {{ appointment.when }} at {{ dealership.name }}",
        f"""Hi {HI},

You're booked for {{{{ appointment.when }}}}\
{{% if vehicle.known %}} to see the {{{{ vehicle.title }}}}{{% endif %}}. \
I'll have it ready for you when you arrive.

We are at {{{{ dealership.address }}}}. \
Please bring your driver's licence so we can go for a drive.

If something comes up, reply to this e-mail or call me at {{{{ advisor.phone }}}} \
and we'll find another time.""",
        card=True,
    ),
    _email(
        "appointment_reminder",
        "Appointment reminder (e-mail)",
        "See you {{ appointment.when }}",
        f"""Hi {HI},

A quick reminder of your visit on {{{{ appointment.when }}}} at {{{{ dealership.name }}}}, \
{{{{ dealership.address }}}}.

Bring your driver's licence, and the ownership of your current vehicle if you are \
thinking of trading it in. If the time no longer works, reply or call {{{{ advisor.phone }}}}.""",
        card=True,
    ),
    _sms(
        "appointment_reminder_sms",
        "Appointment reminder (text)",
        f"""Hi {HI}, a reminder of your visit to {{{{ dealership.name }}}} \
{{{{ appointment.when }}}}. Need a different time? Just reply here. \
- {{{{ advisor.first_name }}}}. Reply STOP to opt out.""",
    ),
    _email(
        "noshow_rebook",
        "No-show: rebook",
        "Another time for the " + VEHICLE + "?",
        f"""Hi {HI},

We had the {VEHICLE} ready for you {{{{ appointment.when }}}}. \
No problem at all, plans change.

Would another day suit you better? \
{{% if booking_url %}}You can pick a new time here: {{{{ booking_url }}}}, \
or{{% else %}}Just{{% endif %}} reply with a day and time and I'll set it up.""",
        card=True,
    ),
    _email(
        "thank_you_sale",
        "Thank you for your purchase",
        "Thank you, " + HI,
        f"""Hi {HI},

Congratulations on your {{{{ vehicle.title or "new vehicle" }}}}, \
and thank you for choosing {{{{ dealership.name }}}}.

In the first few weeks questions always come up: pairing your phone, a warning light, \
a feature you can't find. Call or text me directly at {{{{ advisor.phone }}}}; \
that's what I'm here for.""",
    ),
    _email(
        "week_checkin",
        "One week after the sale",
        'How is the {{ vehicle.model or "new vehicle" }} after a week?',
        f"""Hi {HI},

You've had your {{{{ vehicle.title or "vehicle" }}}} for a week now. How is it going?

If anything isn't quite right, or you'd like me to walk you through a feature again, \
reply here or call me at {{{{ advisor.phone }}}}.""",
    ),
    _email(
        "review_request",
        "Review request",
        "How did we do?",
        f"""Hi {HI},

I hope you are enjoying your {{{{ vehicle.model or "vehicle" }}}}. \
If you have a minute, a short review of your visit helps other people choose \
where to buy, and it tells us what to keep doing.

{{% if dealership.website %}}You can find us on Google, or on {{{{ dealership.website }}}}. \
{{% endif %}}And if anything fell short, please tell me first so I can make it right.""",
    ),
    _email(
        "first_service_reminder",
        "First service reminder",
        'Time for the first service on your {{ vehicle.model or "vehicle" }}',
        f"""Hi {HI},

Your {{{{ vehicle.title or "vehicle" }}}} is coming up on its first scheduled service. \
Keeping to the schedule protects your warranty and catches small things early.

Our service department can book you in at a time that suits you: \
call {{{{ dealership.phone }}}} or reply to this e-mail and I'll pass it on.""",
    ),
]

_SAMPLE_VEHICLE = {
    "known": True,
    "title": "2025 Honda CR-V EX-L",
    "year": 2025,
    "make": "Honda",
    "model": "CR-V",
    "trim": "EX-L",
    "condition": "new",
    "stock": "H2519",
    "vin": "7FARS6H80SE012345",
    "price": "$44,995",
    "odometer": "12 km",
    "color": "Meteorite Grey",
    "photo_url": "https://www.example.com/photos/crv-medium.jpg",
    "in_stock": True,
    "sale_price": "$43,495",
    "promotion": "Year-end event: $1,500 off every new Honda in stock.",
    "promotion_ends": "December 31",
}
_SAMPLE_PERSON = {
    "name": "Alex Martin",
    "first_name": "Alex",
    "phone": "(416) 555-0123",
    "email": "alex.martin@example.com",
    "signature": "Alex Martin\nSales Advisor, Maple Ridge Motors\n(416) 555-0123",
    "assigned": True,
}
SAMPLE_CONTEXT: dict = {
    "customer": {
        "first_name": "Dana",
        "last_name": "Tremblay",
        "name": "Dana Tremblay",
        "email": "dana@example.com",
        "phone": "+14165550199",
    },
    "vehicle": _SAMPLE_VEHICLE,
    "similar_vehicles": [
        {**_SAMPLE_VEHICLE, "title": "2024 Toyota RAV4 XLE", "model": "RAV4", "stock": "T2411"},
        {**_SAMPLE_VEHICLE, "title": "2023 Mazda CX-5 GS", "model": "CX-5", "price": "$31,500"},
    ],
    "advisor": _SAMPLE_PERSON,
    "manager": {
        **_SAMPLE_PERSON,
        "name": "Sam Lee",
        "first_name": "Sam",
        "phone": "(416) 555-0111",
        "email": "sam.lee@example.com",
        "signature": "Sam Lee\nInternet Sales Manager, Maple Ridge Motors\n(416) 555-0111",
    },
    "dealership": {
        "name": "Maple Ridge Motors",
        "address": "100 King St W, Toronto, ON M5X 1A9",
        "street": "100 King St W",
        "city": "Toronto",
        "region": "ON",
        "postal_code": "M5X 1A9",
        "phone": "(416) 555-0100",
        "email": "sales@example.com",
        "website": "www.example.com",
    },
    "lead": {
        "id": 1042,
        "source": "Cars.com",
        "comments": "Is it still available?",
        "trade_in": "2016 Mazda 3 GS",
        "received_on": "March 3",
    },
    "appointment": {
        "when": "Saturday, March 14 at 10:30 AM",
        "date": "Saturday, March 14",
        "time": "10:30 AM",
        "kind": "test drive",
    },
    "unsubscribe_url": "https://www.example.com/unsubscribe/sample",
    "booking_url": "",
}
