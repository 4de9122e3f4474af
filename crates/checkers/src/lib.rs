//! Health checkers for rkeepalived (keepalived's `check_*.c`).
pub mod fsm;
