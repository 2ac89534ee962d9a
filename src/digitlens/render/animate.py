"""Write palette-index frames as GIF (no quantising: the palette is fixed), WebP or MP4.

MP4 goes through the ffmpeg binary of the optional ``imageio-ffmpeg`` package. Every file is
written to a temporary name beside the target and renamed at the end, so a reader never sees a
half-written animation.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from digitlens import palette as C
from digitlens.errors import DigitlensError, bad_param
from digitlens.fileio import WriteError, check_target, make_folder

FORMATS = ("gif", "webp", "mp4")
HOLD_LAST = 1.5  # seconds the last frame stays up


@contextlib.contextmanager
def temp_beside(path: Path) -> Iterator[Path]:
    """A temporary path in ``path``'s folder, renamed onto ``path`` if the block succeeds.
    Only a regular file is ever replaced (see ``digitlens.fileio``)."""
    check_target(path)
    make_folder(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise WriteError(f"{path}: cannot write ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        yield Path(tmp)
        check_target(path)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise WriteError(f"{path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def to_pimage(frame: np.ndarray) -> Image.Image:
    """An index frame as a PIL 'P' image carrying the shared palette."""
    im = Image.frombuffer("P", (frame.shape[1], frame.shape[0]),
                          np.ascontiguousarray(frame, np.uint8), "raw", "P", 0, 1)
    im.putpalette(C.PALETTE_FLAT)
    return im


def even(frame: np.ndarray) -> np.ndarray:
    """Pad to even height and width (H.264 in yuv420p needs them)."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2)), constant_values=C.WHITE)


def hold_frames(fps: float, hold_last: float = HOLD_LAST) -> int:
    """Extra copies of the last frame that hold it on screen before a video loops or ends."""
    return max(0, int(round(hold_last * fps)) - 1)


def write_gif_pillow(frames: Iterable[np.ndarray], path: Path, fps: float) -> int:
    """Pillow's writer: no ffmpeg needed, about three times slower for big frames."""
    images = [to_pimage(f) for f in frames]
    if not images:
        raise bad_param("frames", "at least one frame", 0)
    images += [images[-1]] * hold_frames(fps)
    with temp_beside(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(round(1000 / fps)), loop=0, optimize=False, disposal=1)
    return len(images)


def write_webp(frames: Iterable[np.ndarray], path: Path, fps: float) -> int:
    """Lossless at the fastest effort: these are flat colours and thin lines, where lossy WebP
    smears the colours and was measured 3× larger and slower (9 MB against 3 MB for 80 frames of
    the S3 evolution)."""
    images = [Image.fromarray(C.to_rgb(f)) for f in frames]
    if not images:
        raise bad_param("frames", "at least one frame", 0)
    durations = [int(round(1000 / fps))] * len(images)
    durations[-1] += int(round(1000 * hold_frames(fps) / fps))
    with temp_beside(path) as tmp:
        images[0].save(tmp, format="WEBP", save_all=True, append_images=images[1:],
                       duration=durations, loop=0, lossless=True, quality=0, method=0)
    return len(images)


def ffmpeg_exe() -> str | None:
    """The ffmpeg binary of the optional imageio-ffmpeg package, or None."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError:
        return None


# ffmpeg's rawvideo 'pal8' frame: one index byte per pixel, then 256 colours as 0xAARRGGBB
# little-endian words. Frames go down the pipe as they are drawn: no RGB conversion at all.
# The tables follow the palette in use (colors.use_palette), made once per scheme.
@functools.lru_cache(maxsize=4)
def _tables(scheme: str) -> tuple[bytes, np.ndarray]:  # noqa: ARG001 - the cache's key
    pal = C.PALETTE.astype(np.uint32)
    tail = (pal[:, 2] | (pal[:, 1] << 8) | (pal[:, 0] << 16) | np.uint32(0xFF000000)
            ).astype("<u4").tobytes()
    # the same colours as RGBA words, for encoders that want RGB (x264's RGB->YUV is faster)
    return tail, (pal[:, 0] | (pal[:, 1] << 8) | (pal[:, 2] << 16) | np.uint32(0xFF000000))


def pal8_bytes(frame: np.ndarray) -> bytes:
    return frame.tobytes() + _tables(C.SCHEME)[0]


def rgba_bytes(frame: np.ndarray) -> bytes:
    return np.take(_tables(C.SCHEME)[1], frame).tobytes()


PIXEL_FORMATS = {"pal8": pal8_bytes, "rgba": rgba_bytes}


def pipe_to_ffmpeg(frames: Iterable[np.ndarray], path: Path, fps: float,
                   output_args: list[str], pix_fmt: str = "pal8") -> int:
    """Stream index frames to ffmpeg as 'pal8' (indices plus the palette) or 'rgba' (one table
    lookup); ffmpeg encodes in its own process while the next frame is drawn."""
    encode = PIXEL_FORMATS[pix_fmt]
    exe = ffmpeg_exe()
    if exe is None:
        raise DigitlensError("MP4 needs the optional package imageio-ffmpeg: "
                             "pip install 'digitlens[render]' (or write .gif/.webp)")
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise bad_param("frames", "at least one frame", 0)
    first = even(first)
    h, w = first.shape
    n = 0
    with temp_beside(path) as tmp, tempfile.TemporaryFile() as errlog:
        cmd = [exe, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", pix_fmt,
               "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-", *output_args, str(tmp)]
        with subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=errlog) as proc:
            assert proc.stdin is not None
            try:
                last = first
                for frame in itertools.chain([first], it):
                    last = even(frame)
                    if last.shape != (h, w):
                        raise bad_param("frames", f"frames of one size {w}x{h}",
                                        last.shape[::-1])
                    proc.stdin.write(encode(last))
                    n += 1
                data = encode(last)
                for _ in range(hold_frames(fps)):
                    proc.stdin.write(data)
                    n += 1
            except BrokenPipeError:
                pass  # ffmpeg stopped early: its message below says why
            finally:
                if not proc.stdin.closed:
                    proc.stdin.close()
                proc.wait()
        if proc.returncode:
            errlog.seek(0)
            err = errlog.read().decode(errors="replace").strip()
            raise DigitlensError(f"ffmpeg failed writing {path.name}: {err[-300:]}")
    return n


def write_mp4(frames: Iterable[np.ndarray], path: Path, fps: float) -> int:
    return pipe_to_ffmpeg(frames, path, fps, ["-c:v", "libx264", "-preset", "superfast",
                                              "-crf", "20", "-pix_fmt", "yuv420p",
                                              "-movflags", "+faststart"], "rgba")


def write_gif(frames: Iterable[np.ndarray], path: Path, fps: float) -> int:
    """GIF in the shared palette: through ffmpeg (which stores only the rectangle that changed
    from the previous frame) when it is installed, else through Pillow."""
    if ffmpeg_exe() is None:
        return write_gif_pillow(frames, path, fps)
    return pipe_to_ffmpeg(frames, path, fps, ["-f", "gif", "-loop", "0"])


WRITERS = {"gif": write_gif, "webp": write_webp, "mp4": write_mp4}


def write_animation(frames: Iterable[np.ndarray], path: str | Path, fps: float) -> int:
    """Write frames in the format named by ``path``'s extension; returns the frame count."""
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    if fmt not in WRITERS:
        raise bad_param("out", f"a file ending in {', '.join('.' + f for f in FORMATS)}", str(p))
    if not (0 < fps <= 60):
        raise bad_param("fps", "a number in (0, 60]", fps)
    return WRITERS[fmt](frames, p, fps)
