-- Names and digests compare as bytes, as the distribution spec's lexical order of tags and repositories asks,
-- whatever collation the database was created with (en_US would put "B" after "a" and break pagination).
ALTER TABLE repositories ALTER COLUMN name TYPE VARCHAR(255) COLLATE "C";
ALTER TABLE blobs ALTER COLUMN digest TYPE VARCHAR(200) COLLATE "C";
ALTER TABLE repository_blobs ALTER COLUMN repository TYPE VARCHAR(255) COLLATE "C";
ALTER TABLE repository_blobs ALTER COLUMN digest TYPE VARCHAR(200) COLLATE "C";
ALTER TABLE manifests ALTER COLUMN repository TYPE VARCHAR(255) COLLATE "C";
ALTER TABLE manifests ALTER COLUMN digest TYPE VARCHAR(200) COLLATE "C";
ALTER TABLE manifests ALTER COLUMN subject TYPE VARCHAR(200) COLLATE "C";
ALTER TABLE manifest_references ALTER COLUMN repository TYPE VARCHAR(255) COLLATE "C";
ALTER TABLE manifest_references ALTER COLUMN manifest TYPE VARCHAR(200) COLLATE "C";
ALTER TABLE manifest_references ALTER COLUMN target TYPE VARCHAR(200) COLLATE "C";
ALTER TABLE tags ALTER COLUMN repository TYPE VARCHAR(255) COLLATE "C";
ALTER TABLE tags ALTER COLUMN name TYPE VARCHAR(128) COLLATE "C";
ALTER TABLE tags ALTER COLUMN digest TYPE VARCHAR(200) COLLATE "C";
ALTER TABLE uploads ALTER COLUMN id TYPE VARCHAR(64) COLLATE "C";
ALTER TABLE api_keys ALTER COLUMN owner TYPE VARCHAR(255) COLLATE "C";
ALTER TABLE api_keys ALTER COLUMN id TYPE VARCHAR(64) COLLATE "C";
ALTER TABLE mirror_checks ALTER COLUMN repository TYPE VARCHAR(255) COLLATE "C";
ALTER TABLE mirror_checks ALTER COLUMN tag TYPE VARCHAR(128) COLLATE "C";
