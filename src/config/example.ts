// A complete machine config: the example in docs/machine-config.md and a
// fixture the tests parse. Keys are left out: they are secrets, generated
// per cluster, never published.

/** Example CA certificates (Ed25519, self-signed, "kiln example … CA"). */
const machineCaCrt =
  "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJlVENDQVN1Z0F3SUJBZ0lVYVFaZHVYY29mUDNBaXgvdTdyZG04ajJDczlNd0JRWURLMlZ3TURFeERUQUwKQmdOVkJBb01CR3RwYkc0eElEQWVCZ05WQkFNTUYydHBiRzRnWlhoaGJYQnNaU0J0WVdOb2FXNWxJRU5CTUNBWApEVEkyTVRFeU1qQTBNRGMxTUZvWUR6SXhNall4TURJNU1EUXdOelV3V2pBeE1RMHdDd1lEVlFRS0RBUnJhV3h1Ck1TQXdIZ1lEVlFRRERCZHJhV3h1SUdWNFlXMXdiR1VnYldGamFHbHVaU0JEUVRBcU1BVUdBeXRsY0FNaEFMZ2sKKzZkdjdHODg2amVjVzB4UEJqZStJTXUyRWN5YlJNdWFyVFJWZkNaN28xTXdVVEFkQmdOVkhRNEVGZ1FVMDdHTwpVaUN0cHZjRjlQMTZuam5KRnlHUTAxb3dId1lEVlIwakJCZ3dGb0FVMDdHT1VpQ3RwdmNGOVAxNm5qbkpGeUdRCjAxb3dEd1lEVlIwVEFRSC9CQVV3QXdFQi96QUZCZ01yWlhBRFFRQTNoclRKUWh4T1pTZkxkanNhS3QzU240MGsKdTlZY210K1RhMlNXMDV3V2Z5Z3dVU3pKdk54K3dTb2NhQnF4MTZlNVRKN0pvZFRNaUl4R3BXMXhmTGdCCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";
const clusterCaCrt =
  "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJlVENDQVN1Z0F3SUJBZ0lVV1dxQUVqRkNXMDRCbUVyK2NITms4dzZoNnAwd0JRWURLMlZ3TURFeERUQUwKQmdOVkJBb01CR3RwYkc0eElEQWVCZ05WQkFNTUYydHBiRzRnWlhoaGJYQnNaU0JqYkhWemRHVnlJRU5CTUNBWApEVEkyTVRFeU1qQTBNRGMxTUZvWUR6SXhNall4TURJNU1EUXdOelV3V2pBeE1RMHdDd1lEVlFRS0RBUnJhV3h1Ck1TQXdIZ1lEVlFRRERCZHJhV3h1SUdWNFlXMXdiR1VnWTJ4MWMzUmxjaUJEUVRBcU1BVUdBeXRsY0FNaEFDVFAKbm5sOUVnVTBZa3dtRXovOTJseXRVbVJpTFFlNVo0Y3ZYcy9YcUIyZm8xTXdVVEFkQmdOVkhRNEVGZ1FVNlJVWgpVV2lXRGJ4c0ZYWGI2VHUvTnpKR2puVXdId1lEVlIwakJCZ3dGb0FVNlJVWlVXaVdEYnhzRlhYYjZUdS9OekpHCmpuVXdEd1lEVlIwVEFRSC9CQVV3QXdFQi96QUZCZ01yWlhBRFFRQmZZSk1aLzVjWjRPdGJwaFdtMTQ3bHRYcEsKeFhWN3VDcG0zU2p6OFhOcDlxMk91OUhYWEFZWWpQVldNalNjNDYrcjdvV281L2c1dG5GYTNaSnU3U0lCCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";

/** A control plane machine using every section of the config. */
export const exampleConfigYaml = `apiVersion: kiln/v1alpha1
kind: MachineConfig
machine:
  type: controlplane
  hostname: cp-1
  network:
    nameservers: [1.1.1.1, "2606:4700:4700::1111"]
    extraHostEntries:
      - ip: 10.0.0.20
        aliases: [registry.lab.example, registry]
    interfaces:
      - name: eth0
        dhcp: false
        addresses: [10.0.0.10/24, fd00::10/64]
        routes:
          - network: 0.0.0.0/0
            gateway: 10.0.0.1
            metric: 100
        mtu: 1500
  sysctls:
    net.ipv4.ip_forward: "1"
    vm.overcommit_memory: "1"
  kernel:
    modules:
      - name: br_netfilter
      - name: loop
        parameters: [max_loop=64]
  files:
    - path: /etc/motd
      content: |
        Managed by kiln. There is no shell here; use kilnctl.
      permissions: "0644"
      op: overwrite
    - path: /var/lib/web/index.html
      content: "<h1>hello</h1>"
      permissions: 420
  env:
    HTTP_PROXY: http://proxy.example.com:3128
    NO_PROXY: 10.0.0.0/8,.cluster.local
  time:
    servers: [time.cloudflare.com, 10.0.0.1]
  kubelet:
    extraArgs:
      max-pods: "150"
      rotate-server-certificates: "true"
    nodeIP:
      validSubnets: [10.0.0.0/24]
    clusterDNS: [10.96.0.10]
    extraMounts:
      - source: /var/lib/local-storage
        destination: /var/lib/local-storage
        type: bind
        options: [rbind, rw]
  install:
    disk: /dev/sda
    wipe: false
  ca:
    crt: ${machineCaCrt}
    # key: the CA's base64 PEM private key (secret)
  token: abcdef.0123456789abcdef
  certSANs: [cp-1.example.com, 10.0.0.10]
  services:
    - id: web
      command: [/usr/bin/node, /var/lib/web/server.js, --port, "8080"]
      env:
        ROOT: /var/lib/web
      dependsOn: [containerd]
      restart: forever
      health:
        http: http://127.0.0.1:8080/
      oomScoreAdj: 500
      stopGraceMs: 5000
    - id: warm-cache
      command: [/usr/bin/node, /var/lib/web/warm.js]
      dependsOn: [web]
      restart: until-success
      health:
        exec: [/usr/bin/test, -f, /var/lib/web/.warm]
cluster:
  name: lab
  controlPlane:
    endpoint: https://10.0.0.10:6443
  ca:
    crt: ${clusterCaCrt}
    # key: the Kubernetes CA's base64 PEM private key (secret)
  token: 0123ab.fedcba9876543210
`;
