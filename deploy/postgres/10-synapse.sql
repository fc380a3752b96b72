-- Runs once, when the postgres service initialises its volume (as the
-- `vecinos` user, owner of the `vecinos` database the node uses).
-- Synapse needs its own database with C collation and ctype.
CREATE DATABASE synapse
  ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
