using System.Net;
using Microsoft.Extensions.Options;
using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>
/// Requests waiting for media that is not there yet: blocking playlist reloads, part hints and the open segment
/// streamed as it grows. Over HTTP/1.1 each holds a connection, but one HTTP/2 connection carries up to 100 of them at
/// once: so one client address (IPv6: one /64; the trusted proxies are not counted, their clients are) may hold at most
/// <see cref="PerConnection"/> times <c>MaxConnectionsPerAddress</c> (a low-latency player holds up to four on one
/// HTTP/2 connection: a reload and a hinted part, for video and for audio), and the one past it is refused. The count is for operators.
/// </summary>
internal sealed class HeldRequests(IOptions<PublishingPointOptions> options)
{
    public const int PerConnection = 4;

    private readonly Transport.ConnectionLimits.AddressCounts _byAddress = new(
        (int)Math.Min(int.MaxValue, (long)options.Value.MaxConnectionsPerAddress * PerConnection), ClientNetwork.Trusted(options.Value.TrustedProxies));

    private long _now;

    public const string Refusal = "this address holds its most requests waiting for media (PublishingPoint:MaxConnectionsPerAddress): ask again";

    public long Now => Volatile.Read(ref _now);

    /// <summary>A held request of <paramref name="client"/>; false (and nothing counted) when its address holds its most.</summary>
    public bool TryEnter(IPAddress? client, out Scope scope)
    {
        UInt128? key = null;
        if (client is not null && !_byAddress.TryEnter(client, out key))
        {
            scope = default;
            return false;
        }

        Interlocked.Increment(ref _now);
        scope = new Scope(this, key);
        return true;
    }

    private void Leave(UInt128? key)
    {
        Interlocked.Decrement(ref _now);
        _byAddress.Leave(key);
    }

    internal readonly struct Scope(HeldRequests? owner, UInt128? key) : IDisposable
    {
        public void Dispose() => owner?.Leave(key);
    }
}
