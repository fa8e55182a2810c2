-- invigil server schema, version 5: account roles. Portable SQL.

-- `admin` manages exams, enrolments and accounts; `proctor` reviews.
-- Existing accounts become proctors; the oldest becomes the admin.
ALTER TABLE proctors ADD COLUMN role TEXT NOT NULL DEFAULT 'proctor';
UPDATE proctors SET role = 'admin'
 WHERE username = (SELECT username FROM proctors ORDER BY created_ms, username LIMIT 1);
