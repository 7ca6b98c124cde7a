//! Placeholder; the JavaScript host lands here.
