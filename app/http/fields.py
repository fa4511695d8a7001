"""The bookkeeping fields of a resource's public schema, with their labels: when it was created
and last changed, and its version (the ETag)."""

from datetime import datetime
from typing import Annotated

from pydantic import Field

CreatedAt = Annotated[datetime, Field(title="登録日時", description="When it was created")]
UpdatedAt = Annotated[datetime, Field(title="更新日時", description="When it last changed")]
Version = Annotated[int, Field(title="バージョン", description="Also sent as the ETag")]
