"""
fakenet: the smallest legacy network plugin for slidge 0.2 that privguard's
end-to-end tests need (slidge's own test network is not packaged).

The "legacy network" lives in this process. Each user has two contacts,
baba and bibi (puppets baba@<gateway>, bibi@<gateway>), and one group, room1.
The test drives it through chat messages the user sends to baba:

  say <text>      baba answers <text> (a message from a puppet)
  reflect <text>  slidge reflects "<text>", as if the user had sent it to
                  baba from another legacy client (a privileged message as
                  the user: a carbon and a MAM entry on the server)

Every event the test waits for is appended as one JSON line to the file
named by the FAKENET_EVENTS environment variable (login, text, presence,
reflected, said), so the test waits on events, never on time.
"""

import json
import os

from slidge import BaseGateway, BaseSession, FormField, LegacyBookmarks, LegacyContact, LegacyMUC, LegacyRoster, MucType

__version__ = "0.0.1"

CONTACTS = {"baba": "Baba", "bibi": "Bibi"}


def event(kind: str, **data) -> None:
    path = os.environ.get("FAKENET_EVENTS")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"event": kind, **data}) + "\n")


class Gateway(BaseGateway):
    COMPONENT_NAME = "fakenet (privguard e2e)"
    COMPONENT_TYPE = "fakenet"
    GROUPS = True
    REGISTRATION_FIELDS = [FormField(var="username", label="User name", required=True)]
    REGISTRATION_INSTRUCTIONS = "Any user name"
    WELCOME_MESSAGE = "Welcome to fakenet"

    async def validate(self, user_jid, registration_form):
        event("registered", user=user_jid.bare, username=registration_form.get("username"))
        return None


class Contact(LegacyContact):
    async def update_info(self):
        self.name = CONTACTS.get(str(self.legacy_id), str(self.legacy_id))
        self.is_friend = True


class Roster(LegacyRoster):
    async def fill(self):
        for legacy_id in CONTACTS:
            yield await self.by_legacy_id(legacy_id)


class MUC(LegacyMUC):
    async def update_info(self):
        self.name = "Room one"
        self.type = MucType.GROUP


class Bookmarks(LegacyBookmarks):
    async def fill(self):
        muc = await self.by_legacy_id("room1")
        await muc.add_to_bookmarks(auto_join=True, invite=False)
        event("bookmarked", user=self.session.user_jid.bare, room=muc.jid.bare)


class Session(BaseSession):
    async def login(self):
        event("login", user=self.user_jid.bare)
        return "fakenet: logged in"

    async def logout(self):
        event("logout", user=self.user_jid.bare)

    async def on_text(self, chat, text, **_kwargs):
        event("text", user=self.user_jid.bare, to=chat.jid.bare, text=text)
        verb, _, rest = text.partition(" ")
        if isinstance(chat, LegacyContact):
            if verb == "say":
                chat.send_text(rest)
                event("said", user=self.user_jid.bare, by=chat.jid.bare, text=rest)
            elif verb == "reflect":
                chat.send_text(rest, carbon=True)
                event("reflected", user=self.user_jid.bare, to=chat.jid.bare, text=rest)
        return None

    async def on_presence(self, resource, show, status, resources, merged_resource):
        event("presence", user=self.user_jid.bare, resource=resource, show=show, status=status)
