"""weftd's API serves Istio's security.istio.io kinds (issue 6): PeerAuthentication,
AuthorizationPolicy and RequestAuthentication under /apis/security.istio.io/{v1beta1,v1}, with
Istio's validation (CUSTOM refused: not supported yet), and weftctl applies them."""
import os
import subprocess
import unittest

from weftd_api_test import WEFTCTL, WeftdTestBase

SEC = "/apis/security.istio.io"
INPUTS = os.path.join(os.path.dirname(__file__), "..", "unit", "control", "translate", "inputs")


class WeftdSecurityApiTest(WeftdTestBase):
    def test_security_kinds_are_served(self):
        pa = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
              "metadata": {"name": "default"}, "spec": {"mtls": {"mode": "STRICT"}}}
        status, created = self.weftd.request(
            "POST", f"{SEC}/v1/namespaces/istio-system/peerauthentications", pa)
        self.assertEqual(status, 201, created)
        # Every served version shows it; networking.istio.io does not serve the kind.
        status, got = self.weftd.request(
            "GET", f"{SEC}/v1beta1/namespaces/istio-system/peerauthentications/default")
        self.assertEqual((status, got["apiVersion"]), (200, "security.istio.io/v1beta1"))
        status, _ = self.weftd.request("GET", "/apis/networking.istio.io/v1/peerauthentications")
        self.assertEqual(status, 404)
        status, _ = self.weftd.request("GET", f"{SEC}/v1alpha3/peerauthentications")
        self.assertEqual(status, 404)

    def test_custom_action_is_refused_with_its_path(self):
        ap = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
              "metadata": {"name": "ext"},
              "spec": {"action": "CUSTOM", "provider": {"name": "opa"}, "rules": [{}]}}
        status, body = self.weftd.request(
            "POST", f"{SEC}/v1/namespaces/default/authorizationpolicies", ap)
        self.assertEqual(status, 422, body)
        causes = body["details"]["causes"]
        self.assertEqual([c["field"] for c in causes], ["spec.action"])
        self.assertIn("not supported yet", causes[0]["message"])

    def test_weftctl_applies_security_yaml(self):
        for name in ("security-port-disable.yaml", "security-authz.yaml", "security-jwt.yaml"):
            out = subprocess.run(
                [WEFTCTL, "--server", f"{self.weftd.host}:{self.weftd.port}", "apply",
                 "-f", os.path.join(INPUTS, name)],
                capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        status, listed = self.weftd.request("GET", f"{SEC}/v1/authorizationpolicies")
        self.assertEqual(status, 200)
        self.assertEqual(sorted(i["metadata"]["name"] for i in listed["items"]),
                         ["allow-frontend", "audit-all", "deny-bad", "elsewhere", "ratings-only",
                          "require-jwt"])


if __name__ == "__main__":
    unittest.main()
