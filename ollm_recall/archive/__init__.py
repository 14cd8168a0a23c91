"""The archive: the session format, the store that alone writes session files, redaction at the
save point, recording, the session manager and the listing of sessions."""
