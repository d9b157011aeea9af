"""The behaviours planted for the Privileged Access Report, and the noise around them.

Each rate is the share of some event type that shows the behaviour one of the report's nine
queries looks for, so every query returns rows in any 7-day window at the default size; the
tests check the generated events against these numbers.
"""

from __future__ import annotations

#: Share of session.start (proto ssh), db.session.start and kube.request events with none of
#: access_requests, with_mfa, impersonator, trusted_device ("weak security", report queries 1-3).
WEAK_SECURITY_RATE = 0.30
#: Share of ssh session.start events whose login is root (report query 8).
ROOT_LOGIN_RATE = 0.08
#: Share of session.start events that are Kubernetes sessions (proto kube) rather than ssh.
KUBE_SESSION_SHARE = 0.15
#: Share of exec events that are kube exec (proto kube); the rest are ssh exec (query 5).
KUBE_EXEC_SHARE = 0.25
#: Share of ssh exec events whose command touches /etc/passwd (the seed's example query).
ETC_PASSWD_RATE = 0.04
#: Share of kube.request events whose kubernetes_groups contain system:masters (query 9).
SYSTEM_MASTERS_RATE = 0.06
#: Share of db.session.start events on postgres as db_user postgres (query 4).
POSTGRES_SUPERUSER_RATE = 0.10
#: Share of cert.create events whose identity.expires is more than one day after time (query 6).
LONG_CERT_RATE = 0.12
#: Share of instance.join events whose token_expires is more than one day after time (query 7).
LONG_JOIN_TOKEN_RATE = 0.30
#: The user who connects from many distinct client IPs (the seed's unique-IP queries).
MANY_IP_USER = "admin-annie"
#: How many distinct client IPs MANY_IP_USER uses; everyone else uses one to three.
MANY_IP_COUNT = 40
#: Share of access_request.review events per resulting state (reviews share the request's id).
REVIEW_STATE_SHARES = {"APPROVED": 0.70, "DENIED": 0.20, "PENDING": 0.10}

# Noise: failures that carry the W/E code, success false and an error.
#: Share of user.login events that fail (T1000W local, T1001W SSO).
LOGIN_FAILURE_RATE = 0.10
#: Share of db.session.start events that are denied (TDB00W).
DB_DENIED_RATE = 0.05
#: Share of exec events that exit non-zero (T3002E).
EXEC_FAILURE_RATE = 0.08
