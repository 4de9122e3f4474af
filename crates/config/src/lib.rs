//! keepalived.conf → typed model (being written).
