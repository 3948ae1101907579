"""What a published site is: the contract (every file's type and JSON Schema), the SHA256SUMS
format, how documents are parsed, and the status format. msgspec and the standard library only:
the build writes with these and the reader reads with them."""
