using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Connections;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// Bounds on open connections. Every connection costs a file descriptor and memory (about 25 KB with its receive block),
/// and the descriptors are shared with the archive and the segment spool: a flood of connections that took them all
/// would make the next archive file fail to open and stop a channel. So the server's total has a default under the
/// process's file limit (<see cref="DefaultMaxConnections"/>, applied as Kestrel's <c>MaxConcurrentConnections</c> when
/// the configuration sets none), and one client address may hold at most <c>MaxConnectionsPerAddress</c> of them
/// (<see cref="Connections"/>), so one machine cannot take the server's whole share from everyone else, encoders included.
/// </summary>
internal static partial class ConnectionLimits
{
    /// <summary>Descriptors kept for everything but connections besides the spool's and the archive readers': live archive files, logs, the runtime's own.</summary>
    public const int OtherFiles = 1024;

    /// <summary>
    /// The most connections the process can hold and still open its files: the file limit less the spool's and the
    /// archive readers' shares and <see cref="OtherFiles"/>, but at least a quarter of the limit; null when the limit is unknown.
    /// </summary>
    public static int? DefaultMaxConnections(long? fileLimit, int maxSpooledFiles, int maxOpenArchiveFiles)
    {
        if (fileLimit is not { } limit || limit <= 0)
        {
            return null;
        }

        var left = limit - maxSpooledFiles - maxOpenArchiveFiles - OtherFiles;
        return (int)Math.Clamp(Math.Max(left, limit / 4), 1, 1_000_000);
    }

    /// <summary>The process's open-file limit (soft, which the runtime raises to the hard one at start) on Linux; null elsewhere.</summary>
    public static long? FileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var soft = line["Max open files".Length..].TrimStart().Split(' ', 2)[0];
                    return long.TryParse(soft, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>
    /// Kestrel connection middleware: a connection from an address that already holds <paramref name="maxPerAddress"/>
    /// is closed before anything is read from it. IPv6 clients are counted by their /64 (one subscriber's network), IPv4
    /// ones by their address; the trusted proxies (a CDN's edges carry many viewers each) are not counted.
    /// </summary>
    public static Func<ConnectionDelegate, ConnectionDelegate> Connections(int maxPerAddress, IPNetwork[] trustedProxies, TransportMetrics? metrics, ILogger logger)
    {
        var counts = new AddressCounts(maxPerAddress, trustedProxies);
        var refusals = new RefusalLog(logger);
        return next => async connection =>
        {
            UInt128? key = null;
            if (connection.RemoteEndPoint is IPEndPoint remote && !counts.TryEnter(remote.Address, out key))
            {
                metrics?.ConnectionRefused();
                refusals.Refused(remote.Address, maxPerAddress);
                connection.Abort(new ConnectionAbortedException("too many connections from this address"));
                return;
            }

            try
            {
                await next(connection).ConfigureAwait(false);
            }
            finally
            {
                counts.Leave(key);
            }
        };
    }

    /// <summary>Open connections per client address (IPv6 per /64); exempt networks are not counted.</summary>
    internal sealed class AddressCounts(int maxPerAddress, IPNetwork[] exempt)
    {
        private readonly Dictionary<UInt128, int> _open = [];
        private readonly Lock _lock = new();

        public int Addresses
        {
            get
            {
                lock (_lock)
                {
                    return _open.Count;
                }
            }
        }

        /// <summary>
        /// Counts a connection from <paramref name="address"/>; false when its address already holds the most it may.
        /// <paramref name="key"/> is null for a connection not counted (an exempt address, or no limit).
        /// </summary>
        public bool TryEnter(IPAddress address, out UInt128? key)
        {
            key = null;
            if (maxPerAddress <= 0 || Configuration.ClientNetwork.LimitedKey(address, exempt) is not { } k)
            {
                return true;
            }

            lock (_lock)
            {
                _open.TryGetValue(k, out var open);
                if (open >= maxPerAddress)
                {
                    return false;
                }

                _open[k] = open + 1;
            }

            key = k;
            return true;
        }

        /// <summary>What <paramref name="address"/> holds now (0 for one not counted).</summary>
        public int Held(IPAddress address)
        {
            if (maxPerAddress <= 0 || Configuration.ClientNetwork.LimitedKey(address, exempt) is not { } k)
            {
                return 0;
            }

            lock (_lock)
            {
                return _open.GetValueOrDefault(k);
            }
        }

        public void Leave(UInt128? key)
        {
            if (key is not { } k)
            {
                return;
            }

            lock (_lock)
            {
                if (_open.TryGetValue(k, out var open) && open > 1)
                {
                    _open[k] = open - 1;
                }
                else
                {
                    _open.Remove(k);
                }
            }
        }
    }

    /// <summary>A line for the first refusal and then at most one every 10 s with the count since: a flood must not flood the log.</summary>
    private sealed partial class RefusalLog(ILogger logger)
    {
        private readonly Configuration.LogGate _gate = new(TimeSpan.FromSeconds(10));

        public void Refused(IPAddress address, int maxPerAddress)
        {
            if (_gate.Pass(out var held))
            {
                Log(logger, held + 1, address, maxPerAddress);
            }
        }

        [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Count} connection(s) from addresses holding their maximum of {Max} (the last from {Address}); PublishingPoint:MaxConnectionsPerAddress")]
        private static partial void Log(ILogger logger, long count, IPAddress address, int max);
    }
}
