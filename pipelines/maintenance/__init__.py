"""Table maintenance: OPTIMIZE and VACUUM within the configured retention windows."""
