"""Sign-in commands: login, logout, account."""

from __future__ import annotations

import click

from sercon.cli.context import arm_for
from sercon.cli.env import Env
from sercon.cli.options import azure_options, cloud_option, subscription_option
from sercon.errors import ExitStatus


@click.command()
@click.option("--tenant", help="Tenant (directory) to sign in to.")
@click.option("--device-code/--browser", "device_code", default=None,
              help="Sign in with a code on another device (the default over SSH), or in a browser here.")
@cloud_option
@click.pass_obj
def login(env: Env, tenant: str | None, device_code: bool | None, cloud: str | None) -> int:
    """Sign in to Azure interactively; later commands refresh the sign-in silently."""
    from sercon.azure.clouds import cloud_for
    from sercon.azure.login import login as sign_in

    if device_code is None:
        remote = env.environ.get("SSH_CONNECTION") or env.environ.get("SSH_TTY")
        device_code = bool(remote) or not (env.environ.get("DISPLAY") or env.environ.get("WAYLAND_DISPLAY"))
    account = sign_in(cloud_for(cloud, env.environ), env.environ, tenant, device_code, env.info)
    env.info(f"signed in as {account['username']} (tenant {account['tenant']})")
    return ExitStatus.SUCCESS


@click.command()
@click.pass_obj
def logout(env: Env) -> int:
    """Forget the sign-in of `sercon login` (the token cache is deleted)."""
    from sercon.azure.login import logout as sign_out

    env.info("signed out" if sign_out(env.environ) else "was not signed in")
    return ExitStatus.SUCCESS


@click.command()
@subscription_option
@cloud_option
@azure_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def account(env: Env, subscription: str | None, cloud: str | None, identity: bool, as_json: bool) -> int:
    """Who sercon signs in as, in which tenant, and which subscription it uses."""
    import json

    from sercon.azure.auth import token_claims
    from sercon.azure.resolve import pick_subscription
    from sercon.targets import AzureTarget

    arm = arm_for(env, cloud, identity)
    claims = token_claims(arm.credential.get_token(arm.scope).token)
    info = {"user": claims.get("upn") or claims.get("unique_name") or claims.get("name"),
            "app_id": claims.get("appid"), "object_id": claims.get("oid"), "tenant": claims.get("tid"),
            "signed_in_with": arm.credential.source,
            "subscription": pick_subscription(AzureTarget("-", subscription=subscription), env.environ)}
    if as_json:
        env.stdout.write(json.dumps(info, indent=2) + "\n")
    else:
        env.stdout.write("".join(f"{key.replace('_', ' ')}: {value}\n" for key, value in info.items() if value))
    return ExitStatus.SUCCESS


COMMANDS = (login, logout, account)
