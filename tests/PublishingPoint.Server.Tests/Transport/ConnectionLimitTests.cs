using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PublishingPoint.Server.Tests.Infrastructure;
using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Tests.Transport;

/// <summary>
/// One client address cannot hold more than its share of connections, so a flood from one machine neither exhausts the
/// server's file descriptors (which the archive needs) nor keeps an encoder or a player from another address out; and
/// the server's total stays under its file limit when the configuration sets none.
/// </summary>
public sealed class ConnectionLimitTests
{
    private const string Point = "live/flood.isml";
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task AnAddressAtItsMaximum_IsRefused_WhileAnEncoderAndAPlayerElsewhereAreServed_AndAClosedConnectionFreesAPlace()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxConnectionsPerAddress=4", "--PublishingPoint:FinalizeGraceSeconds=60");
        var port = server.BaseUrl.Port;
        var held = new List<Socket>();
        try
        {
            await HoldAnsweredAsync(port, 4, held);

            using (var fifth = await ConnectAsync(port))
            {
                Assert.Equal(string.Empty, await AskAsync(fifth)); // closed without an answer
            }

            // The encoder and the player come from 127.0.0.1: the flood from 127.0.0.2 does not touch them.
            var push = await Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { Seconds = 4 });
            Assert.True(push.ExitCode == 0, Tool.Describe(push));
            using var master = await server.Http.GetAsync(new Uri($"{Point}/master.m3u8", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, master.StatusCode);

            held[0].Dispose();
            held.RemoveAt(0);
            await Eventually.WaitUntilAsync(async () =>
            {
                using var again = await ConnectAsync(port);
                return (await AskAsync(again)).StartsWith("HTTP/1.1 200", StringComparison.Ordinal);
            }, "a place freed by a closed connection is given to the next one", TimeSpan.FromSeconds(10));

            var metrics = await server.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
            Assert.Matches(@"publishingpoint_transport_connections_refused(_total)? [1-9]", metrics);
        }
        finally
        {
            held.ForEach(s => s.Dispose());
        }
    }

    /// <summary>
    /// Kestrel writes a warning for every connection it turns away at the server's total, so a flood of connections was a
    /// flood of the log, which the async sink's bound then answers by dropping every other line (a review's finding).
    /// </summary>
    [Fact]
    public async Task AtTheServersTotal_AFloodOfRejectedConnections_IsOneCountedLine_NotOneAConnection()
    {
        var capture = new LogCapture();
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<ILoggerProvider>(capture),
            "--Kestrel:Limits:MaxConcurrentConnections=3");
        var port = server.BaseUrl.Port;
        var held = new List<Socket>();
        try
        {
            await HoldAnsweredAsync(port, 3, held);

            var started = DateTime.UtcNow;
            for (var i = 0; i < 100; i++)
            {
                using var rejected = await ConnectAsync(port);
                Assert.Equal(string.Empty, await AskAsync(rejected));
            }

            await Eventually.WaitUntilAsync(() => Task.FromResult(capture.Entries.Any(e => e.Message.Contains("MaxConcurrentConnections", StringComparison.Ordinal))),
                "a line says connections were refused at the server's total, and which setting that is", TimeSpan.FromSeconds(10));
            var tenSecondPeriods = (int)((DateTime.UtcNow - started).TotalSeconds / 10) + 1;
            Assert.InRange(capture.Entries.Count(e => e.Message.Contains("MaxConcurrentConnections", StringComparison.Ordinal)), 1, tenSecondPeriods);
            Assert.DoesNotContain(capture.Entries, e => e.Category.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal) && e.Level >= LogLevel.Warning);
        }
        finally
        {
            held.ForEach(s => s.Dispose());
        }

        await Eventually.WaitUntilAsync(async () =>
        {
            using var again = await ConnectAsync(port);
            return (await AskAsync(again)).StartsWith("HTTP/1.1 200", StringComparison.Ordinal);
        }, "the server serves again once connections close", TimeSpan.FromSeconds(10));
        var metrics = await server.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.Matches(@"kestrel_rejected_connections(_total)?(\{[^}]*\})? 1[0-9][0-9]\b", metrics);
    }

    [Fact]
    public async Task TheServersTotal_DefaultsUnderTheFileLimit_AndAConfiguredOneIsKept()
    {
        await using (var server = await RunningServer.StartAsync())
        {
            var max = server.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits.MaxConcurrentConnections;
            var files = ConnectionLimits.FileLimit();
            Assert.NotNull(files); // Linux: /proc/self/limits
            Assert.NotNull(max);
            Assert.InRange(max!.Value, 1, files!.Value - 1);
        }

        await using var configured = await RunningServer.StartAsync(null, "--Kestrel:Limits:MaxConcurrentConnections=77");
        Assert.Equal(77, configured.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits.MaxConcurrentConnections);
    }

    [Fact]
    public async Task TheSlowestAnswer_IsMinResponseBytesPerSecond_NotKestrels240()
    {
        await using (var server = await RunningServer.StartAsync())
        {
            var rate = server.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits.MinResponseDataRate;
            Assert.NotNull(rate);
            Assert.Equal(4096, rate!.BytesPerSecond);
            Assert.Equal(TimeSpan.FromSeconds(5), rate.GracePeriod);
        }

        await using var off = await RunningServer.StartAsync(null, "--PublishingPoint:MinResponseBytesPerSecond=0");
        Assert.Null(off.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits.MinResponseDataRate);
    }

    [Theory]
    [InlineData(20_000L, 13_856)] // less the spool's 4096, the archive readers' 1024 and 1024 others
    [InlineData(1_048_576L, 1_000_000)]
    [InlineData(4_096L, 1_024)] // a low limit: a quarter of it
    public void DefaultTotal_LeavesTheFilesTheirShare(long fileLimit, int expected) =>
        Assert.Equal(expected, ConnectionLimits.DefaultMaxConnections(fileLimit, 4096, 1024));

    [Fact]
    public void NoKnownFileLimit_NoDefault() => Assert.Null(ConnectionLimits.DefaultMaxConnections(null, 4096, 1024));

    [Fact]
    public void Addresses_AreCountedOneByOne_IPv6ByItsSlash64_AndTrustedProxiesAreNotCounted()
    {
        var counts = new ConnectionLimits.AddressCounts(2, [IPNetwork.Parse("10.1.0.0/16")]);
        Assert.True(counts.TryEnter(IPAddress.Parse("2001:db8:1:2::1"), out var a));
        Assert.True(counts.TryEnter(IPAddress.Parse("2001:db8:1:2:ffff::9"), out _));
        Assert.False(counts.TryEnter(IPAddress.Parse("2001:db8:1:2::77"), out _)); // the same /64
        Assert.True(counts.TryEnter(IPAddress.Parse("2001:db8:1:3::1"), out _)); // the next /64

        Assert.True(counts.TryEnter(IPAddress.Parse("192.0.2.7"), out _));
        Assert.True(counts.TryEnter(IPAddress.Parse("::ffff:192.0.2.7"), out _)); // a dual-stack listener's view of the same client
        Assert.False(counts.TryEnter(IPAddress.Parse("192.0.2.7"), out _));
        Assert.True(counts.TryEnter(IPAddress.Parse("192.0.2.8"), out _));

        for (var i = 0; i < 10; i++)
        {
            Assert.True(counts.TryEnter(IPAddress.Parse("::ffff:10.1.2.3"), out var exempt));
            Assert.Null(exempt);
        }

        counts.Leave(a);
        Assert.True(counts.TryEnter(IPAddress.Parse("2001:db8:1:2::77"), out _));
        Assert.Equal(4, counts.Addresses);
    }

    [Fact]
    public void IPv4AndIPv6Keys_NeverMeet()
    {
        var keys = new[] { "0.0.0.0", "128.0.0.0", "255.255.255.255", "::", "8000::", "::1", "ffff:ffff:ffff:ffff::" }
            .Select(a => PublishingPoint.Server.Configuration.ClientNetwork.Key(IPAddress.Parse(a))).ToList();
        Assert.Equal(keys.Count - 1, keys.Distinct().Count()); // "::" and "::1" share the /64
        Assert.Equal(keys[3], keys[5]);
    }

    [Fact]
    public void NoLimit_CountsNothing()
    {
        var counts = new ConnectionLimits.AddressCounts(0, []);
        for (var i = 0; i < 100; i++)
        {
            Assert.True(counts.TryEnter(IPAddress.Loopback, out _));
        }

        Assert.Equal(0, counts.Addresses);
    }

    // Connections from the attacker's address, each answered once (so open and counted by the server), into held.
    private static async Task HoldAnsweredAsync(int port, int count, List<Socket> held)
    {
        for (var i = 0; i < count; i++)
        {
            held.Add(await ConnectAsync(port));
            Assert.StartsWith("HTTP/1.1 200", await AskAsync(held[^1]));
        }
    }

    private static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(Attacker, 0));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    // The answer's head to a health check on this connection, or "" when the server closed it instead.
    private static async Task<string> AskAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await socket.SendAsync("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"u8.ToArray(), SocketFlags.None, timeout.Token);
            var buffer = new byte[4096];
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            return System.Text.Encoding.ASCII.GetString(buffer, 0, read);
        }
        catch (SocketException)
        {
            return string.Empty; // reset
        }
    }
}
