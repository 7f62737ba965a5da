using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Tests.Infrastructure;
using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Tests.Transport;

/// <summary>
/// A player that stops reading a large answer holds no more than <c>KernelUnsentKilobytes</c> of the kernel's TCP memory
/// (which every socket, the encoders' too, shares); the rest of its answer waits in the server, counted under
/// <c>MaxUnsentAnswerBytes</c>. The server's side of the connection is read from /proc/net/tcp.
/// </summary>
public sealed class KernelSendQueueTests
{
    private const string Segment = "live/big.isml/hls/video-12000000/0.ts";

    private const string MidSegment = "live/mid.isml/hls/video-1200000/0.ts";

    private static readonly Lazy<Task<byte[]>> _midCapture = new(() => IsmvCapture.CaptureAsync(Infrastructure.Encoder.SmoothPushArguments,
        new EncoderSettings { Seconds = 4, VideoKbps = 1200, AudioKbps = 0, Width = 640, Height = 360, Noise = true, RealTime = false }));

    private static readonly Lazy<Task<byte[]>> _capture = new(() => IsmvCapture.CaptureAsync(Infrastructure.Encoder.SmoothPushArguments,
        new EncoderSettings { Seconds = 4, VideoKbps = 12000, AudioKbps = 0, Width = 640, Height = 360, Noise = true, RealTime = false }));

    [Fact]
    public async Task APlayerThatStopsReading_HoldsAtMostTheBoundInTheKernel_AndTheRestIsCountedInTheServer()
    {
        await using var server = await RunningServer.StartAsync();
        var segment = await PushAsync(server);

        using var stalled = await StopReadingAsync(server);
        var queued = await SettledSendQueueAsync(server, stalled);
        Assert.InRange(queued, 1, (256 + 128) * 1024);
        var unsent = server.Services.GetRequiredService<UnsentAnswers>();
        await Eventually.WaitUntilAsync(() => unsent.Bytes >= segment.Length - (512 * 1024), "the rest of the answer is not counted as waiting in the server");

        // A player that reads gets the whole answer meanwhile.
        Assert.Equal(segment, await server.Http.GetByteArrayAsync(Segment));
    }

    [Fact]
    public async Task APlayerThatStopsReading_IsCutByTheMinimumResponseRate()
    {
        // With the kernel holding the whole answer Kestrel saw it sent and the connection stayed open (idle keep-alive);
        // with the rest waiting in the server the stall shows, and MinResponseBytesPerSecond (4 KB/s after 5 s) cuts it.
        await using var server = await RunningServer.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/mid.isml/Streams(a)", await _midCapture.Value)).Status);
        var segment = await server.Http.GetByteArrayAsync(MidSegment);
        Assert.InRange(segment.Length, 200 * 1024, 1024 * 1024); // more than the bound, less than the kernel would take whole

        using var stalled = await StopReadingAsync(server, MidSegment);
        var clientPort = ((IPEndPoint)stalled.LocalEndPoint!).Port;
        Assert.True(SendQueue(server.BaseUrl.Port, clientPort) > 0, "the server's side of the connection is not found");
        await Eventually.WaitUntilAsync(() => SendQueue(server.BaseUrl.Port, clientPort) == 0, "the stalled player's connection is still open", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task WithoutTheBound_TheKernelTakesMostOfTheAnswer()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:KernelUnsentKilobytes=0");
        var segment = await PushAsync(server);

        using var stalled = await StopReadingAsync(server);
        var queued = await SettledSendQueueAsync(server, stalled);
        Assert.True(queued > 1024 * 1024, $"the kernel took {queued} of {segment.Length} bytes");
    }

    [Fact]
    public async Task WithManyConnectionsAllowed_TheBoundIsLowered_SoTheyHoldAtMostHalfTheKernelsTcpMemory()
    {
        // A million connections would each get 16 KB (the least): 2.2 GB of tcp_mem over a million is far less.
        await using var server = await RunningServer.StartAsync(null, "--Kestrel:Limits:MaxConcurrentConnections=1000000");
        await PushAsync(server);

        using var stalled = await StopReadingAsync(server);
        var queued = await SettledSendQueueAsync(server, stalled);
        Assert.InRange(queued, 1, 64 * 1024);
    }

    [Theory]
    [InlineData(256, 1_000L, 256 * 1024)] // 1,000 x 256 KB = 256 MB: under half of 2.2 GB, the cap stands
    [InlineData(256, 13_856L, 85_108)] // this machine's default connection limit: 2.2 GB / 2 / 13,856
    [InlineData(256, 1_000_000L, KernelSendQueue.MinimumBytes)]
    [InlineData(0, 13_856L, 0)] // off stays off
    [InlineData(256, null, 256 * 1024)] // no connection limit: the cap
    public void TheBound_IsTheCap_LoweredToHalfTheKernelsTcpMemoryOverTheConnections(int capKilobytes, long? connections, int expected)
    {
        const long TcpMem = 575_814L * 4096; // net.ipv4.tcp_mem's limit on a 24 GB machine
        Assert.Equal(expected, KernelSendQueue.PerConnection(capKilobytes * 1024, connections, TcpMem));
        Assert.Equal(capKilobytes * 1024, KernelSendQueue.PerConnection(capKilobytes * 1024, connections, null));
    }

    [Fact]
    public async Task TheBound_OutOfRange_IsRefusedAtStart()
    {
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => RunningServer.StartAsync(null, "--PublishingPoint:KernelUnsentKilobytes=8"));
        Assert.Contains("KernelUnsentKilobytes", refused.ToString(), StringComparison.Ordinal);
    }

    private static async Task<byte[]> PushAsync(RunningServer server)
    {
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/big.isml/Streams(a)", await _capture.Value)).Status);
        var segment = await server.Http.GetByteArrayAsync(Segment);
        Assert.True(segment.Length > 2 * 1024 * 1024, $"the segment is {segment.Length} bytes: too small to tell");
        return segment;
    }

    // Asks for the segment, takes the status line and stops reading, with a receive buffer of a few KB.
    private static async Task<Socket> StopReadingAsync(RunningServer server, string path = Segment)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(IPAddress.Loopback, server.BaseUrl.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        var head = new byte[1024];
        var read = await socket.ReceiveAsync(head);
        Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(head, 0, read), StringComparison.Ordinal);
        return socket;
    }

    // The server's side of the connection: its send queue (sent and not acknowledged, or not sent), once it stops moving.
    private static async Task<long> SettledSendQueueAsync(RunningServer server, Socket client)
    {
        var clientPort = ((IPEndPoint)client.LocalEndPoint!).Port;
        long last = -1;
        long settled = 0;
        await Eventually.WaitUntilAsync(() =>
        {
            var now = SendQueue(server.BaseUrl.Port, clientPort);
            var same = now > 0 && now == last;
            last = now;
            settled = same ? now : settled;
            return Task.FromResult(same);
        }, "the server's send queue did not settle", TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(100));
        return settled;
    }

    // /proc/net/tcp: "sl local_address rem_address st tx_queue:rx_queue ...", each address HEX:PORT with the port in hex.
    // 0 when the server's side of the connection is gone.
    private static long SendQueue(int localPort, int remotePort)
    {
        foreach (var line in File.ReadLines("/proc/net/tcp").Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (Port(fields[1]) == localPort && Port(fields[2]) == remotePort)
            {
                return long.Parse(fields[4].AsSpan(0, fields[4].IndexOf(':', StringComparison.Ordinal)), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        return 0;

        static int Port(string address) => int.Parse(address.AsSpan(address.IndexOf(':', StringComparison.Ordinal) + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
