-- Indexes of the admin view's report list (keep in step with
-- ../postgres/0002_admin_view.sql): keyset pagination on (sort key,
-- tracking_id) and the common filters (state, WG + state, severity), each
-- ordered by filing time so a page is an index range scan.
CREATE INDEX reports_list_created ON reports (created_at, tracking_id);
CREATE INDEX reports_list_updated ON reports (updated_at, tracking_id);
CREATE INDEX reports_list_state ON reports (state, created_at, tracking_id);
CREATE INDEX reports_list_wg_state ON reports (wg, state, created_at, tracking_id);
CREATE INDEX reports_list_severity ON reports (severity, created_at, tracking_id);
