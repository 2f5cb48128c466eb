-- Security events (issue 9, src/audit.rs): GET /admin/events filters by action, actor or
-- target within a time range, newest first, so each filter has an index led by its column and
-- ordered by (at, id), the page order. The purge of old events uses audit_events_at (0001).
-- migrations/sqlite/0011_audit_event_filters.sql is the same in the other dialect.
CREATE INDEX audit_events_action_at ON audit_events(action, at, id);
CREATE INDEX audit_events_actor_at ON audit_events(actor, at, id);
CREATE INDEX audit_events_target_at ON audit_events(target, at, id);
