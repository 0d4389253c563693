"""The secret key that turns personal data into stable pseudonyms."""

import dagster as dg


class PiiProtection(dg.ConfigurableResource):
    """Holds the HMAC key for PII columns; set it from the `MLOPS_PII_KEY` environment variable."""

    hmac_key: str = ""

    def key_bytes(self) -> bytes | None:
        return self.hmac_key.encode() if self.hmac_key else None
