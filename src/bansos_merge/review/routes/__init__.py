"""The review app's routes, one router per concern: `auth` (login, logout), `queue` (the
queue page, export), `items` (item pages, decisions, NIK reveal), `api` (bearer-token JSON)."""
