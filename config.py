"""Configuration from the environment, with safe development defaults and nothing secret."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DEVELOPMENT_SECRET_KEY = "dev-only-not-secret"


class Config:
    """Settings read once from the environment when the app is created."""

    SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
    REQUIRE_SECRET_KEY = False
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'dealer_leads.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLITE_BUSY_TIMEOUT_MS = _int("SQLITE_BUSY_TIMEOUT_MS", 15000)
    PHOTOS_DIR = os.environ.get("PHOTOS_DIR", str(BASE_DIR / "photos"))
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")

    # Defaults for a fresh installation; the admin edits the live values in the database.
    DEALERSHIP_TIMEZONE = os.environ.get("DEALERSHIP_TIMEZONE", "America/Toronto")
    DEALERSHIP_COUNTRY = os.environ.get("DEALERSHIP_COUNTRY", "CA")
    DEALERSHIP_NAME = os.environ.get("DEALERSHIP_NAME", "Maple Ridge Motors")

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = _int("MAIL_PORT", 587)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", True)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "leads@localhost")
    MAIL_TIMEOUT = _int("MAIL_TIMEOUT", 20)
    IMAP_HOST = os.environ.get("IMAP_HOST", "")
    IMAP_PORT = _int("IMAP_PORT", 993)
    IMAP_USERNAME = os.environ.get("IMAP_USERNAME", "")
    IMAP_PASSWORD = os.environ.get("IMAP_PASSWORD", "")
    IMAP_USE_SSL = _bool("IMAP_USE_SSL", True)
    # The leads mailbox (IMAP polling, the inbound e-mail webhook, forwarding).
    IMAP_FOLDER = os.environ.get("IMAP_FOLDER", "INBOX")
    IMAP_MOVE_TO = os.environ.get("IMAP_MOVE_TO", "")  # processed messages are moved here if set
    IMAP_POLL_SECONDS = _int("IMAP_POLL_SECONDS", 30)
    IMAP_PROCESSED_FLAGS = os.environ.get("IMAP_PROCESSED_FLAGS", "\\Seen \\Flagged")
    IMAP_TIMEOUT_SECONDS = _int("IMAP_TIMEOUT_SECONDS", 30)
    IMAP_SSL_CA_FILE = os.environ.get("IMAP_SSL_CA_FILE", "")  # trust a private CA too
    IMAP_BATCH = _int("IMAP_BATCH", 200)  # messages fetched per IMAP round trip
    # Over this, a message is kept with its headers only and marked "too large".
    MAX_INBOUND_EMAIL_BYTES = _int("MAX_INBOUND_EMAIL_BYTES", 25 * 1024 * 1024)
    # How often the worker forwards new service/parts/finance leads of every channel.
    FORWARD_SECONDS = _int("FORWARD_SECONDS", 30)
    SMS_API_URL = os.environ.get("SMS_API_URL", "")
    SMS_ACCOUNT_SID = os.environ.get("SMS_ACCOUNT_SID", "")
    SMS_AUTH_TOKEN = os.environ.get("SMS_AUTH_TOKEN", "")
    SMS_FROM_NUMBER = os.environ.get("SMS_FROM_NUMBER", "")
    SMS_TIMEOUT_SECONDS = _int("SMS_TIMEOUT_SECONDS", 10)
    SMS_MAX_BODY_BYTES = _int("SMS_MAX_BODY_BYTES", 64 * 1024)

    MAX_PHOTO_UPLOAD_BYTES = _int("MAX_PHOTO_UPLOAD_BYTES", 64 * 1024 * 1024)
    MAX_PHOTO_BYTES = _int("MAX_PHOTO_BYTES", 25 * 1024 * 1024)
    MAX_PHOTOS_PER_UPLOAD = _int("MAX_PHOTOS_PER_UPLOAD", 40)
    PHOTO_CLAIM_TIMEOUT_SECONDS = _int("PHOTO_CLAIM_TIMEOUT_SECONDS", 900)
    WORKER_PHOTOS_SECONDS = _int("WORKER_PHOTOS_SECONDS", 5)
    PHOTOS_NEEDED_MIN = _int("PHOTOS_NEEDED_MIN", 12)

    VPIC_BASE_URL = os.environ.get("VPIC_BASE_URL", "https://vpic.nhtsa.dot.gov/api")
    VPIC_TIMEOUT_SECONDS = float(os.environ.get("VPIC_TIMEOUT_SECONDS", "3"))
    VPIC_RETRY_MINUTES = _int("VPIC_RETRY_MINUTES", 10)  # decodes left pending, tried again

    # Request limits: bodies over this are refused with 413 before they are read.
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)
    MAX_LEAD_BODY_BYTES = _int("MAX_LEAD_BODY_BYTES", 512 * 1024)
    MAX_VEHICLE_BODY_BYTES = _int("MAX_VEHICLE_BODY_BYTES", 256 * 1024)
    MAX_IMPORT_BYTES = _int("MAX_IMPORT_BYTES", 20 * 1024 * 1024)  # a DMS file on the import page

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    WTF_CSRF_TIME_LIMIT = None

    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed: with
    # 0 a client could claim any address; behind one proxy left at 0, every client would share
    # the proxy's address and so one rate limit.
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
    INQUIRY_RATE_LIMIT = os.environ.get("INQUIRY_RATE_LIMIT", "20 per hour")
    INQUIRY_MIN_FILL_SECONDS = _int("INQUIRY_MIN_FILL_SECONDS", 3)

    TRIAGE_PAGE_SIZE = _int("TRIAGE_PAGE_SIZE", 50)
    # An auto-response waits for the next tick, half a tick on average (bench: a 5 s tick gave a
    # median of 2.5 s from post to SMTP, 1 s gave 0.54 s); an idle tick costs under 1 ms.
    CADENCE_TICK_SECONDS = float(os.environ.get("CADENCE_TICK_SECONDS") or 1)
    CADENCE_BATCH = _int("CADENCE_BATCH", 100)
    CADENCE_TICK_BUDGET_SECONDS = _int("CADENCE_TICK_BUDGET_SECONDS", 30)
    WORKER_HOUSEKEEPING_MINUTES = _int("WORKER_HOUSEKEEPING_MINUTES", 60)
    IDEMPOTENCY_KEEP_DAYS = _int("IDEMPOTENCY_KEEP_DAYS", 7)

    # Appointments.
    APPOINTMENT_SWEEP_SECONDS = _int("APPOINTMENT_SWEEP_SECONDS", 60)
    NO_SHOW_AFTER_MINUTES = _int("NO_SHOW_AFTER_MINUTES", 30)
    SELF_SCHEDULE_DAYS = _int("SELF_SCHEDULE_DAYS", 14)
    APPOINTMENT_MINUTES = _int("APPOINTMENT_MINUTES", 60)  # default length of a visit
    APPOINTMENT_SLOT_MINUTES = _int("APPOINTMENT_SLOT_MINUTES", 30)  # self-scheduling grid
    SELF_SCHEDULE_NOTICE_MINUTES = _int("SELF_SCHEDULE_NOTICE_MINUTES", 120)
    SELF_SCHEDULE_LINK_DAYS = _int("SELF_SCHEDULE_LINK_DAYS", 30)

    # Inventory feeds.
    FEEDS_DIR = os.environ.get("FEEDS_DIR", str(INSTANCE_DIR / "feeds"))
    FEED_BUILD_MINUTES = _int("FEED_BUILD_MINUTES", 15)
    FEED_MIN_PHOTOS = _int("FEED_MIN_PHOTOS", 0)  # publish only vehicles with N real photos
    # The same photo bytes on this many vehicles: a stock picture, treated as a placeholder.
    FEED_SHARED_PHOTO_VEHICLES = _int("FEED_SHARED_PHOTO_VEHICLES", 5)
    # A build that would drop more than this share of the listed vehicles is held.
    FEED_MAX_REMOVED_PERCENT = _int("FEED_MAX_REMOVED_PERCENT", 50)
    FEED_CSV_COLUMNS = os.environ.get("FEED_CSV_COLUMNS", "")  # "Header=field, …"; "" = default
    FEED_VDP_URL = os.environ.get("FEED_VDP_URL", "{site}/inventory/{vin}")  # {site} {vin} {stock}
    FEED_STORE_CODE = os.environ.get("FEED_STORE_CODE", "main")
    FEED_CURRENCY = os.environ.get("FEED_CURRENCY", "")  # "" = from the dealership's country
    FEED_BATCH = _int("FEED_BATCH", 500)


class ProductionConfig(Config):
    """Production refuses to start with the development secret key."""

    REQUIRE_SECRET_KEY = True
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE


class TestingConfig(Config):
    """Tests: a throw-away database (TEST_DATABASE_URL or SQLite in a temp dir), fast hashing."""

    TESTING = True
    SECRET_KEY = "testing"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    RATELIMIT_ENABLED = False
    WTF_CSRF_ENABLED = False  # tests that check CSRF turn it back on
    VPIC_BASE_URL = "http://127.0.0.1:9"  # nothing listens: tests never reach the real vPIC
    VPIC_TIMEOUT_SECONDS = 0.5
    INQUIRY_MIN_FILL_SECONDS = 0
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
