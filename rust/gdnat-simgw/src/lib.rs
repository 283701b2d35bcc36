//! Simulated UPnP IGD gateway (placeholder, being written).
