"""The AddressBook contract (conversation references): the in-memory fake, SQLite and
PostgreSQL keep the same references the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.ports import AddressBook, ChatAddress
from bot.storage.addresses import SqlAddressBook
from bot.storage.engine import open_engine
from bot.storage.migrate import upgrade
from tests.conftest import BACKENDS, fresh_postgres_database
from tests.fakes import T0, MemoryAddressBook


@pytest.fixture(params=("memory", *BACKENDS))
async def book(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AddressBook]:
    if request.param == "memory":
        yield MemoryAddressBook()
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'book.sqlite'}"
        async with open_engine(url) as engine:
            await upgrade(engine)
            yield SqlAddressBook(engine)
        return
    async with (
        fresh_postgres_database(request.getfixturevalue("postgres_server")) as url,
        open_engine(url) as engine,
    ):
        await upgrade(engine)
        yield SqlAddressBook(engine)


def person(**changes: object) -> ChatAddress:
    base = ChatAddress(
        platform="teams",
        key="aad-1",
        kind="person",
        service_url="https://smba.example.com/emea/",
        tenant_id="tenant-1",
        user_id="29:user-1",
        name="Alice Chen",
        email=None,
        conversation_id=None,
        bot_id="28:bot",
        updated_at=T0,
    )
    return ChatAddress(**{**base.__dict__, **changes})  # type: ignore[arg-type]


async def test_a_reference_is_kept_and_read_back(book: AddressBook) -> None:
    """A remembered reference comes back as it was given."""
    await book.remember(person())
    assert await book.addresses("teams") == [person()]
    assert await book.addresses("slack") == []


async def test_a_newer_reference_updates_but_never_erases(book: AddressBook) -> None:
    """A later reference moves the service URL and fills in new facts; a missing
    conversation id or e-mail leaves the known one."""
    await book.remember(person(conversation_id="a:chat-1", email="alice@example.com"))
    later = T0 + timedelta(minutes=5)
    await book.remember(person(service_url="https://smba.example.com/amer/", updated_at=later))
    (kept,) = await book.addresses("teams")
    assert kept.service_url == "https://smba.example.com/amer/"
    assert kept.conversation_id == "a:chat-1"
    assert kept.email == "alice@example.com"
    assert kept.updated_at == later


async def test_an_older_reference_only_fills_gaps(book: AddressBook) -> None:
    """A reference older than the stored one changes nothing it knows, and fills what it lacks."""
    later = T0 + timedelta(minutes=5)
    await book.remember(person(service_url="https://new.example.com/", updated_at=later))
    await book.remember(person(service_url="https://old.example.com/", email="a@example.com"))
    (kept,) = await book.addresses("teams")
    assert kept.service_url == "https://new.example.com/"
    assert kept.email == "a@example.com"
    assert kept.updated_at == later


async def test_people_and_channels_are_kept_apart(book: AddressBook) -> None:
    """Keys are per platform and kind; every one is listed."""
    await book.remember(person())
    channel = person(key="19:general@thread.tacv2", kind="channel", user_id=None, name="General")
    await book.remember(channel)
    assert {a.key for a in await book.addresses("teams")} == {"aad-1", "19:general@thread.tacv2"}
