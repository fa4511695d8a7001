\set organization random(1, 4)
\set code random(1, 50)
SELECT users.id, users.organization_id, users.role, users.location_id, locations.code, users.login_id, users.security_stamp, users.password_temporary, users.password_expires_at FROM users LEFT OUTER JOIN locations ON locations.id = users.location_id WHERE users.id = :organization;
SELECT locations.code, locations.name, locations.short_name, locations.delegate_number, locations.created_at, locations.updated_at, locations.version, locations.id FROM locations WHERE locations.organization_id = :organization AND locations.code = 'C' || lpad(:code::text, 3, '0');
