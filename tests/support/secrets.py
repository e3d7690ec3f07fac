"""What a secret looks like in a file: shared by the deploy-file and code-rule checks."""

from __future__ import annotations

import re

SECRET_PATTERNS = {
    "storage account key": re.compile(r"AccountKey=(?!<)[A-Za-z0-9+/=]{20,}"),
    "credentials in a URL": re.compile(r"\b[a-z+]+://[^\s:/@$<]+:[^\s@$<{]+@", re.IGNORECASE),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "OpenAI/xAI style key": re.compile(r"\b(?:sk|xai)-[A-Za-z0-9]{20,}"),
    "LangSmith key": re.compile(r"\blsv2_[a-z]{2}_[A-Za-z0-9]{20,}"),
    "Alpaca key id": re.compile(r"\b[PA]K[A-Z0-9]{18}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    "literal secret assignment": re.compile(
        r"(?i)\b(?!secretref\b)[\w-]*(?:key|secret|token|password)[\w-]*\s*[:=]\s*[\"']?(?![$<{]|secretref:)[A-Za-z0-9/+_=-]{16,}"),
}
