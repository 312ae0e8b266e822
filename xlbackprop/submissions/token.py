"""The teacher's token: made once per class folder, kept there across restarts, compared in constant time."""

import hmac
import os
import secrets
from pathlib import Path

from xlbackprop.errors import ClassError
from xlbackprop.files import sync_folder

TOKEN_FILE = "teacher-token"


def teacher_token(folder):
    """The class's token: read from DIR/teacher-token, or made and kept there (readable by its owner alone)
    the first time. Two servers starting at once end with the same token: the file is linked into place only
    if it is not there yet."""
    path = Path(folder) / TOKEN_FILE
    if not path.exists():
        tmp = path.with_name(f".{TOKEN_FILE}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24) + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)  # fails if another start made it first; theirs is kept
            except FileExistsError:
                pass
            sync_folder(path.parent)
        except OSError as exc:
            raise ClassError(f"{path}: cannot write the teacher's token ({exc.strerror})") from None
        finally:
            tmp.unlink(missing_ok=True)
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ClassError(f"{path}: cannot read the teacher's token ({exc})") from None
    if len(token) < 16:
        raise ClassError(f"{path}: the teacher's token is too short ({len(token)} characters); delete the file "
                         "and a new one is made at the next start")
    return token


def token_matches(given, token):
    """Whether `given` is the token, compared in constant time (timing does not tell how much of it matched)."""
    return hmac.compare_digest(str(given).strip().encode(), token.encode())
