"""Writers: a batch's rows back into the upload's own format, for its rejection and success files."""
