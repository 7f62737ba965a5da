using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>
/// An encoder whose body stops where the parser needs more bytes than it has: fewer than the bytes that tell TS from
/// fMP4, inside a box header, or a continued stream's 4-byte piece. The parser waits for more (bytes it examined and
/// left are not handed back to it as new, which would spin a core with no timer running), so the idle timeout ends it.
/// </summary>
public sealed class StalledBodyTests
{
    /// <param name="cut">Where the body stops: "sniff" inside the first 752 bytes (TS or fMP4 not known yet), "header"
    /// four bytes into the box header after the 'ftyp'.</param>
    [Theory]
    [InlineData("sniff")]
    [InlineData("header")]
    public async Task AChunkedPostThatStops_WhereTheParserNeedsMore_EndsAtTheIdleTimeout(string cut)
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:IngestIdleTimeoutSeconds=2");
        var capture = await IsmvCapture.SixSecondsAsync();
        var length = cut == "sniff" ? 100 : BinaryPrimitives.ReadInt32BigEndian(capture) + 4;
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.BaseUrl.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"POST /live/stalled.isml/Streams(a) HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n{length:x}\r\n")));
        await stream.WriteAsync(capture.AsMemory(0, length));
        await stream.WriteAsync("\r\n"u8.ToArray());

        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var reading = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var answer = new byte[1024];
        var read = 0;
        try
        {
            read = await stream.ReadAsync(answer, reading.Token);
        }
        catch (OperationCanceledException)
        {
        }

        var head = Encoding.ASCII.GetString(answer, 0, read);
        Assert.True(head.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), $"after {clock.Elapsed.TotalSeconds:0.0} s: '{head.Split('\r')[0]}' (no answer: the stalled body was never timed out)");
        Assert.InRange(clock.Elapsed.TotalSeconds, 1, 10);
    }

    [Fact]
    public async Task AFourBytePieceOfAContinuedStream_EndsAtTheIdleTimeout()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:IngestIdleTimeoutSeconds=2");
        var url = server.Url("live/stalled.isml/Streams(p)");
        var capture = await IsmvCapture.SixSecondsAsync();

        Assert.Equal(HttpStatusCode.OK, await PutAsync(server.Http, url, capture, 0, 4));
        Assert.Equal(1, await ConnectionsAsync(server.Http));
        // No further piece: after the idle timeout the stream ends like a dropped connection, and its next piece has
        // nothing to continue.
        await Eventually.WaitUntilAsync(async () => await ConnectionsAsync(server.Http) == 0,
            "a stream stopped 4 bytes in never ended", TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(250));
        Assert.Equal(HttpStatusCode.Conflict, await PutAsync(server.Http, url, capture, 4, 8));
    }

    // A point that never got media is removed when its last stream ends.
    private static async Task<int> ConnectionsAsync(HttpClient http)
    {
        using var response = await http.GetAsync(new Uri("api/points/live/stalled.isml", UriKind.Relative));
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return 0;
        }

        using var point = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return point.RootElement.GetProperty("streams").EnumerateArray().Single(s => s.GetProperty("id").GetString() == "p").GetProperty("connections").GetInt32();
    }

    private static async Task<HttpStatusCode> PutAsync(HttpClient http, Uri url, byte[] stream, int from, int to)
    {
        using var content = new ByteArrayContent(stream[from..to]);
        content.Headers.TryAddWithoutValidation("Content-Range", string.Create(CultureInfo.InvariantCulture, $"bytes {from}-{to - 1}/*"));
        using var response = await http.PutAsync(url, content);
        return response.StatusCode;
    }
}
