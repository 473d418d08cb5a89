"""inventory.json and the schema.org `Car` JSON-LD of a vehicle page. Pure, like feeds.py."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from dealer_leads.inventory.feeds import FeedContext, FeedVehicle, amount


def vehicle_json(r: FeedVehicle) -> dict:
    """One vehicle for inventory.json: every field, photos in order with each size's URL."""
    return {
        "stock_number": r.stock,
        "vin": r.vin,
        "condition": r.condition,
        "status": r.status,
        "year": r.year,
        "make": r.make,
        "model": r.model,
        "trim": r.trim,
        "title": r.title,
        "body_style": r.body_style,
        "exterior_color": r.exterior_color,
        "interior_color": r.interior_color,
        "drivetrain": r.drivetrain,
        "fuel": r.fuel,
        "transmission": r.transmission,
        "mileage": r.odometer,
        "mileage_unit": r.odometer_unit,
        "price": amount(r.price) or None,
        "sale_price": amount(r.sale_price) or None,
        "promotion": r.promotion,
        "promotion_ends": r.promotion_ends.isoformat() if r.promotion_ends else None,
        "msrp": amount(r.msrp) or None,
        "in_stock_date": r.in_stock_on.isoformat() if r.in_stock_on else None,
        "options": list(r.options),
        "description": r.description,
        "vdp_url": r.url,
        "photos": [dict(photo.urls) for photo in r.photos],
    }


class JsonWriter:
    """inventory.json: {"dealership": …, "currency": …, "vehicles": [ … ]}, written in pieces."""

    media_type = "application/json"

    def __init__(self, context: FeedContext) -> None:
        self.context, self.first = context, True

    def head(self) -> str:
        dealer = {"name": self.context.dealership_name, "address": self.context.address}
        return (
            '{"dealership": '
            + json.dumps(dealer, ensure_ascii=False)
            + f', "currency": "{self.context.currency}", "vehicles": ['
        )

    def rows(self, records: Iterable[FeedVehicle]) -> str:
        parts = []
        for record in records:
            parts.append(("\n" if self.first else ",\n") + json.dumps(vehicle_json(record)))
            self.first = False
        return "".join(parts)

    def tail(self) -> str:
        return "\n]}\n"


_UNIT_CODES = {"km": "KMT", "mi": "SMI"}  # UN/CEFACT codes schema.org uses
# schema.org ItemAvailability: a sale-pending car is held for a buyer (Reserved: "reserved and
# therefore not available"); one in transit can be spoken for before it reaches the lot.
SCHEMA_AVAILABILITY = {"available": "InStock", "pending": "Reserved", "in_transit": "PreOrder"}


def car_jsonld(r: FeedVehicle, context: FeedContext) -> dict:
    """The schema.org `Car` of one vehicle page (Vehicle and Product properties only)."""
    condition = "NewCondition" if r.condition == "new" else "UsedCondition"
    offer: dict[str, Any] = {
        "@type": "Offer",
        "price": amount(r.sale_price if r.sale_price is not None else r.price),
        "priceCurrency": context.currency,
        "availability": f"https://schema.org/{SCHEMA_AVAILABILITY.get(r.status, 'OutOfStock')}",
        "itemCondition": f"https://schema.org/{condition}",
        "url": r.url,
        "seller": {
            "@type": "AutoDealer",
            "name": context.dealership_name,
            "address": {
                "@type": "PostalAddress",
                "streetAddress": context.street,
                "addressLocality": context.city,
                "addressRegion": context.region,
                "postalCode": context.postal_code,
                "addressCountry": context.country,
            },
        },
    }
    if r.sale_price is not None and r.promotion_ends is not None:
        offer["priceValidUntil"] = r.promotion_ends.date().isoformat()
    car: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Car",
        "name": r.title,
        "description": r.description or r.title,
        "url": r.url,
        "sku": r.stock,
        "vehicleIdentificationNumber": r.vin,
        "brand": {"@type": "Brand", "name": r.make},
        "model": r.model,
        "vehicleConfiguration": r.trim,
        "vehicleModelDate": str(r.year) if r.year else "",
        "bodyType": r.body_style,
        "color": r.exterior_color,
        "vehicleInteriorColor": r.interior_color,
        "driveWheelConfiguration": r.drivetrain,
        "fuelType": r.fuel,
        "vehicleTransmission": r.transmission,
        "itemCondition": f"https://schema.org/{condition}",
        "image": r.photo_urls("large"),
        "offers": offer,
    }
    if r.odometer is not None:
        car["mileageFromOdometer"] = {
            "@type": "QuantitativeValue",
            "value": r.odometer,
            "unitCode": _UNIT_CODES.get(r.odometer_unit, "KMT"),
        }
    return {key: value for key, value in car.items() if value not in ("", [], None)}


def jsonld_script(r: FeedVehicle, context: FeedContext) -> str:
    """The `<script type="application/ld+json">` a vehicle page embeds ('<' escaped for HTML)."""
    text = json.dumps(car_jsonld(r, context), ensure_ascii=False, indent=2)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/ld+json">\n{text}\n</script>'
