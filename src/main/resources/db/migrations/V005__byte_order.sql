-- Names and digests compare as bytes, as the distribution spec's lexical order of tags and repositories asks.
-- SQLite compares text as bytes already; PostgreSQL's version of this migration says so column by column.
SELECT 1;
