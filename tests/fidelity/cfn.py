"""CloudFormation templates as the deployment will see them: intrinsics resolved to strings.

``Stacks`` (each a name, a region and a template's JSON) resolve ``Ref``, ``Fn::GetAtt``,
``Fn::Join``, ``Fn::Sub``, ``Fn::Select``, ``Fn::Split``, ``Fn::GetStackOutput``,
``Fn::ImportValue``, ``Fn::FindInMap``, ``Fn::If``/``Fn::Equals``/``Fn::Not``/``Fn::And``/
``Fn::Or``/``Fn::Contains`` and ``Fn::Base64``, and the pseudo parameters (``AWS::Partition`` is
``aws``, ``AWS::URLSuffix`` ``amazonaws.com``, ``AWS::AccountId`` the deployment's account).

What CloudFormation only knows once it creates a resource (a generated name, a key id, an API id,
a secret's random suffix) is made up deterministically from the logical id, so every reference to
one resource resolves to the same string, in the ARN format the service documents
(``tests.fidelity.physical``). ``Stacks(physical=...)`` overrides any resource's ``Ref`` and
attributes. A value nothing documents (an attribute of a type not described there) resolves to
``<Logical.Attribute>``: a string that names no real resource, so a policy naming it allows
nothing; ``Resolver.placeholders`` lists them.
"""

import base64
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from tests.fidelity.physical import NAME_PROPERTY, PARTITION, URL_SUFFIX, Physical, derive, token

ACCOUNT: Final = "111122223333"  # the account the templates are resolved in (AWS's example one)
_NO_VALUE: Final = object()
__all__ = ["ACCOUNT", "PARTITION", "URL_SUFFIX", "Physical", "Resolver", "StackTemplate", "Stacks"]


class UnresolvedIntrinsic(ValueError):
    """An intrinsic function or reference the resolver cannot turn into a value."""


@dataclass(frozen=True, slots=True)
class StackTemplate:
    name: str
    region: str
    body: Mapping[str, Any]

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        resources: Mapping[str, Mapping[str, Any]] = self.body.get("Resources", {})
        return resources


class Stacks:
    """The stacks of one deployment, in one account."""

    def __init__(
        self,
        stacks: Iterable[StackTemplate],
        *,
        account: str = ACCOUNT,
        physical: Mapping[str, Mapping[str, Physical]] | None = None,
    ) -> None:
        """``physical``: per stack name, resources whose ``Ref`` and attributes are given."""
        self.stacks = {stack.name: stack for stack in stacks}
        self.account = account
        self._physical = dict(physical or {})
        self._resolvers: dict[str, Resolver] = {}

    def stack(self, name: str) -> StackTemplate:
        try:
            return self.stacks[name]
        except KeyError:
            raise UnresolvedIntrinsic(f"no stack {name!r} in {sorted(self.stacks)}") from None

    def resolver(self, name: str) -> "Resolver":
        if name not in self._resolvers:
            self._resolvers[name] = Resolver(self, self.stack(name), self._physical.get(name))
        return self._resolvers[name]

    def export(self, export_name: str) -> Any:
        for stack in self.stacks.values():
            resolver = self.resolver(stack.name)
            for output in stack.body.get("Outputs", {}).values():
                exported = output.get("Export", {}).get("Name")
                if exported is not None and resolver.resolve(exported) == export_name:
                    return resolver.resolve(output["Value"])
        raise UnresolvedIntrinsic(f"no stack exports {export_name!r}")


class Resolver:
    """Resolves values of one stack of ``Stacks``."""

    def __init__(
        self,
        stacks: Stacks,
        stack: StackTemplate,
        physical: Mapping[str, Physical] | None = None,
    ) -> None:
        self.stacks = stacks
        self.stack = stack
        self.region = stack.region
        self.account = stacks.account
        self._physical: dict[str, Physical] = dict(physical or {})
        self._resolving: set[str] = set()
        self.placeholders: set[str] = set()

    # -- values ------------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic replaced by what it resolves to."""
        resolved = self._resolve(value)
        return None if resolved is _NO_VALUE else resolved

    def text(self, value: Any) -> str:
        resolved = self.resolve(value)
        if not isinstance(resolved, str):
            raise UnresolvedIntrinsic(f"{value!r} is not a string: {resolved!r}")
        return resolved

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key.startswith("Fn::") or key == "Condition":
                return self._function(key, argument)
        resolved = {k: self._resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _function(self, name: str, argument: Any) -> Any:  # noqa: PLR0911, PLR0912 - a dispatch table
        match name, argument:
            case "Fn::GetAtt", [str(logical), str(attribute)]:
                return self.get_att(logical, attribute)
            case "Fn::GetAtt", str(dotted):
                logical, _, attribute = dotted.partition(".")
                return self.get_att(logical, attribute)
            case "Fn::Join", [str(separator), parts]:
                return separator.join(self._string(part) for part in self._resolve(parts))
            case "Fn::Sub", str(pattern):
                return self._sub(pattern, {})
            case "Fn::Sub", [str(pattern), dict(variables)]:
                return self._sub(pattern, {k: self._resolve(v) for k, v in variables.items()})
            case "Fn::Select", [index, items]:
                chosen = self._resolve(items)
                position = int(self._resolve(index))
                if isinstance(chosen, str) and chosen.startswith("<"):
                    return self._placeholder(f"{chosen[1:-1]}[{position}]")
                if not isinstance(chosen, list) or not 0 <= position < len(chosen):
                    raise UnresolvedIntrinsic(f"Fn::Select {position} of {chosen!r}")
                return chosen[position]
            case "Fn::Split", [str(separator), source]:
                return self._string(self._resolve(source)).split(separator)
            case "Fn::GetStackOutput", dict(reference):
                return self._stack_output(reference)
            case "Fn::ImportValue", export:
                return self.stacks.export(self._string(self._resolve(export)))
            case "Fn::FindInMap", [mapping, top, second]:
                mappings = self.stack.body.get("Mappings", {})
                try:
                    return self._resolve(
                        mappings[self._resolve(mapping)][self._resolve(top)][self._resolve(second)]
                    )
                except KeyError as exc:
                    raise UnresolvedIntrinsic(f"Fn::FindInMap {argument!r}") from exc
            case "Fn::Base64", source:
                return base64.b64encode(self._string(self._resolve(source)).encode()).decode()
            case "Fn::If", [str(condition), when_true, when_false]:
                return self._resolve(when_true if self.condition(condition) else when_false)
            case "Fn::Equals", [left, right]:
                return self._resolve(left) == self._resolve(right)
            case "Fn::Not", [operand]:
                return not self._truth(operand)
            case "Fn::And", list(operands):
                return all(self._truth(operand) for operand in operands)
            case "Fn::Or", list(operands):
                return any(self._truth(operand) for operand in operands)
            case "Fn::Contains", [items, item]:
                return self._resolve(item) in self._resolve(items)
            case "Condition", str(condition):
                return self.condition(condition)
        raise UnresolvedIntrinsic(f"{name} {argument!r}")

    def _truth(self, operand: Any) -> bool:
        value = self._resolve(operand)
        if not isinstance(value, bool):
            raise UnresolvedIntrinsic(f"not a condition: {operand!r}")
        return value

    def condition(self, name: str) -> bool:
        conditions = self.stack.body.get("Conditions", {})
        if name not in conditions:
            raise UnresolvedIntrinsic(f"no condition {name!r}")
        return self._truth(conditions[name])

    def _string(self, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if not isinstance(value, str):
            raise UnresolvedIntrinsic(f"not a string: {value!r}")
        return value

    def _sub(self, pattern: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return self._string(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, _, attribute = name.partition(".")
                return self._string(self.get_att(logical, attribute))
            return self._string(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, pattern)

    def _stack_output(self, reference: Mapping[str, Any]) -> Any:
        stack = self.stacks.stack(self._string(self._resolve(reference["StackName"])))
        region = reference.get("Region")
        if region is not None and self._resolve(region) != stack.region:
            raise UnresolvedIntrinsic(f"{stack.name} is in {stack.region}, not {region}")
        outputs = stack.body.get("Outputs", {})
        name = self._string(self._resolve(reference["OutputName"]))
        if name not in outputs:
            raise UnresolvedIntrinsic(f"{stack.name} has no output {name!r}")
        return self.stacks.resolver(stack.name).resolve(outputs[name]["Value"])

    def _placeholder(self, what: str) -> str:
        self.placeholders.add(what)
        return f"<{what}>"

    # -- references ----------------------------------------------------------------------------
    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": self.stack.name,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{self.region}:{self.account}:stack/"
            f"{self.stack.name}/{uuid.uuid5(uuid.NAMESPACE_URL, self.stack.name)}",
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        parameters = self.stack.body.get("Parameters", {})
        if name in parameters:
            parameter = parameters[name]
            if str(parameter.get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
                return self._placeholder(f"ssm:{parameter.get('Default')}")
            if "Default" in parameter:
                return parameter["Default"]
            raise UnresolvedIntrinsic(f"parameter {name} has no default")
        return self.physical(name).ref

    def get_att(self, logical: str, attribute: str) -> Any:
        attributes = self.physical(logical).attributes
        if attribute in attributes:
            return attributes[attribute]
        return self._placeholder(f"{logical}.{attribute}")

    def physical(self, logical: str) -> Physical:
        if logical in self._physical:
            return self._physical[logical]
        resource = self.stack.resources.get(logical)
        if resource is None:
            raise UnresolvedIntrinsic(f"{self.stack.name} has no resource {logical!r}")
        if logical in self._resolving:
            raise UnresolvedIntrinsic(f"{logical} refers to itself")
        self._resolving.add(logical)
        try:
            physical = derive(self, logical, resource)
        finally:
            self._resolving.discard(logical)
        self._physical[logical] = physical
        return physical

    def name_of(self, logical: str, resource: Mapping[str, Any]) -> str:
        """The resource's name: its name property, else one CloudFormation would generate."""
        properties = resource.get("Properties", {})
        name_property = NAME_PROPERTY.get(resource["Type"])
        if name_property and name_property in properties:
            return self._string(self.resolve(properties[name_property]))
        generated = f"{self.stack.name}-{logical}-{token(logical, 12).upper()}"
        return generated.lower() if resource["Type"] == "AWS::S3::Bucket" else generated


def stack_templates(
    templates: Mapping[str, Mapping[str, Any]], regions: Mapping[str, str]
) -> list[StackTemplate]:
    """``StackTemplate``s from ``{stack name: template JSON}`` and ``{stack name: region}``."""
    return [StackTemplate(name, regions[name], body) for name, body in templates.items()]
