"""Keeping a container for later runs (``--harness-reuse``), finding it, removing it.

A kept container is started like any other, with one more label (`LABEL_KEEPER`): the marker
file in the project's reuse directory (`harness.run.reuse`) that holds it. The sweep of dead
runs' containers leaves it running while that file exists; once the file is gone (the reuse
directory removed, ``--harness-reuse-drop``) the next sweep removes it like any leftover.
A run that keeps containers starts no reaper (Ryuk), which would remove them with the run.
"""

from __future__ import annotations

import contextlib
from typing import Any

from harness.launchers._docker import (
    API_TIMEOUT,
    LABEL_KEEPER,
    _docker_module,
    _short,
    docker_client,
)


def keep_data(container: Any, backend: str, image: str, marker: str) -> dict[str, str]:
    """What finds the started *container* again: its id, image (name and id) and keeper."""
    wrapped = container.get_wrapped_container()
    return {
        "backend": backend,
        "container": str(wrapped.id),
        "image": image,
        "image_id": str(wrapped.image.id),
        "marker": marker,
    }


def kept_problem(data: dict[str, str], image: str) -> str | None:
    """Why the container *data* names cannot serve a run asking for *image*, or None."""
    if data.get("image") != image:
        return f"runs the image {data.get('image')!r} and this run asks for {image!r}"
    try:
        client = docker_client(API_TIMEOUT)
    except Exception as exc:  # the SDK raises DockerException, or requests' errors
        return f"cannot be checked (Docker is not reachable: {_short(exc)})"
    errors = _docker_module("docker.errors")
    try:
        try:
            container = client.containers.get(data.get("container", ""))
        except errors.NotFound:
            return "is gone (its container was removed)"
        except Exception as exc:  # the SDK's DockerException, or requests' errors
            return f"cannot be checked ({_short(exc)})"
        if container.status != "running":
            return f"is no longer running (its container is {container.status})"
        if container.labels.get(LABEL_KEEPER) != data.get("marker"):
            return "belongs to another keeper"
        try:
            current = str(client.images.get(image).id)
        except Exception:
            current = ""
        if current and current != data.get("image_id"):
            return f"runs an older build of {image} than the one here now"
        return None
    finally:
        client.close()


def discard(data: dict[str, str]) -> None:
    """Remove the kept container *data* names, with its volumes; quiet if it is gone."""
    with contextlib.suppress(Exception):
        client = docker_client(API_TIMEOUT)
        try:
            with contextlib.suppress(Exception):
                client.containers.get(data.get("container", "")).remove(force=True, v=True)
        finally:
            client.close()
