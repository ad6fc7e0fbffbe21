-- What this database is (a random id) and where its blobs are: nodes must agree, or one node's view of the
-- blobs would make it forget or collect what another stored.
CREATE TABLE berth_store (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    value VARCHAR(2048) NOT NULL
);
