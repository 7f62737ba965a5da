using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace PublishingPoint.Server.Configuration;

/// <summary>
/// What counts as one client wherever clients are limited or counted: an IPv4 address, or an IPv6 /64 (one
/// subscriber's network, which hands its hosts any of 2^64 addresses).
/// </summary>
internal static class ClientNetwork
{
    /// <summary>
    /// IPv4 (and IPv4-mapped IPv6) by the whole address in the low half, with a bit above it; IPv6 by its first 64 bits
    /// in the high half, the low half zero: the two never share a key.
    /// </summary>
    public static UInt128 Key(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        return address.AddressFamily == AddressFamily.InterNetwork
            ? new UInt128(0, (1UL << 32) | BinaryPrimitives.ReadUInt32BigEndian(bytes))
            : new UInt128(BinaryPrimitives.ReadUInt64BigEndian(bytes), 0);
    }

    /// <summary>
    /// The key of a client that is limited: null for an address in <paramref name="trusted"/> (a CDN's edge or a proxy,
    /// which carries many clients), whose IPv4 clients a dual-stack listener sees IPv4-mapped.
    /// </summary>
    public static UInt128? LimitedKey(IPAddress address, IPNetwork[] trusted)
    {
        ArgumentNullException.ThrowIfNull(address);
        var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return Array.Exists(trusted, n => n.Contains(plain)) ? null : Key(plain);
    }

    /// <summary>
    /// PublishingPoint:TrustedProxies as networks (an address is its own /32 or /128); entries that are neither are
    /// skipped here, as the options' rules refuse them at start.
    /// </summary>
    public static IPNetwork[] Trusted(IEnumerable<string> proxies) =>
    [
        .. proxies.Select(p => IPAddress.TryParse(p, out var address)
                ? new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128)
                : IPNetwork.TryParse(p, out var network) ? network : (IPNetwork?)null)
            .OfType<IPNetwork>(),
    ];

    private static readonly string[] _forwardingHeaders = ["X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Host", "Via"];

    private static readonly object _peerKey = new();

    private sealed record Peer(IPAddress? Address, bool Relayed);

    /// <summary>
    /// Notes the connection's own peer and whether the request was relayed, before UseForwardedHeaders puts the
    /// forwarded client in its place and removes the header it came in (a trusted proxy relaying "127.0.0.1", or any
    /// client of a Unix-socket listener, would otherwise pass for a direct loopback client).
    /// </summary>
    public static void NotePeer(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Items[_peerKey] = new Peer(context.Connection.RemoteIpAddress, Relayed(context.Request.Headers));
    }

    /// <summary>A loopback peer that is not relaying someone else's request.</summary>
    /// <param name="orNoAddress">A peer without an IP address (a Unix socket, or the server in-process) counts as local too.</param>
    public static bool IsDirectLoopback(HttpContext context, bool orNoAddress = false)
    {
        ArgumentNullException.ThrowIfNull(context);
        var (remote, relayed) = context.Items.TryGetValue(_peerKey, out var noted) && noted is Peer peer
            ? (peer.Address, peer.Relayed)
            : (context.Connection.RemoteIpAddress, Relayed(context.Request.Headers));
        if (remote is null ? !orNoAddress : !IPAddress.IsLoopback(remote))
        {
            return false;
        }

        return !relayed;
    }

    private static bool Relayed(IHeaderDictionary headers)
    {
        foreach (var name in _forwardingHeaders)
        {
            if (headers.ContainsKey(name))
            {
                return true;
            }
        }

        return false;
    }
}
