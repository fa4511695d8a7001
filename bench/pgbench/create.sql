\set organization random(1, 4)
BEGIN;
INSERT INTO locations (organization_id, code, name, short_name, delegate_number, name_search, short_name_search, created_at, updated_at, version) VALUES (:organization, 'N' || nextval('change_placeholders'), '大阪駅前店', '大阪', NULL, '大阪駅前店', '大阪', now(), now(), 1) RETURNING code, name, short_name, delegate_number, created_at, updated_at, version;
WITH event AS (INSERT INTO audit_events (at, organization_id, actor_kind, actor_id, action, resource_type, resource_id, changes, request_id, client_ip) VALUES (now(), :organization, 'user', 'user.1', 'location.create', 'location', 'N', '{"code": [null, "N"]}', 'r', '127.0.0.1') RETURNING id) INSERT INTO changes (organization_id, seq, at, action, resource_type, resource_id, data) SELECT :organization, -nextval('change_placeholders'), now(), 'location.created', 'location', 'N', '{"code": "N"}' FROM event;
COMMIT;
