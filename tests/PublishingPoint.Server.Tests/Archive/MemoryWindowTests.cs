using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Archive;

/// <summary>
/// Runs alone, after the parallel tests: a measurement of the whole process's managed heap would count what other
/// tests allocate meanwhile (and the buffers the shared array pool keeps for them).
/// </summary>
[CollectionDefinition("memory measurements", DisableParallelization = true)]
public sealed class MemoryMeasurementsRunAlone;

/// <summary>A push many times longer than the DVR window keeps memory flat: older fragment bytes live on disk only.</summary>
[Collection("memory measurements")]
public sealed class MemoryWindowTests
{
    private static readonly byte[] _tfxd = Convert.FromHexString("6d1d9b0542d544e680e2141daff757b2");

    [Fact]
    public async Task PushOfTwentyMinutesWithATenSecondWindow_ManagedMemoryStaysFlat()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:DvrWindowSeconds=10", "--PublishingPoint:FsyncArchive=false");
        var capture = await IsmvCapture.SixSecondsAsync();
        var boxes = Boxes.TopLevel(capture);
        var header = capture[..boxes.First(b => b.Type == "moof").Offset];
        var fragments = boxes.Where(b => b.Type == "moof").Select(m =>
        {
            var mdat = boxes.First(b => b.Offset == m.Offset + m.Size);
            return capture[m.Offset..(mdat.Offset + mdat.Size)];
        }).ToArray();
        const long Loop = 60_000_000; // the capture is 6 s: each repeat moves its tfxd times on by 6 s
        const int Repeats = 200;       // 20 minutes of media, 120 DVR windows

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.BaseUrl.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /live/mem.isml/Streams(a) HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
        await WriteChunkAsync(stream, header);
        long pushed = 0;
        var heap = new List<long>();
        for (var repeat = 0; repeat < Repeats; repeat++)
        {
            foreach (var fragment in fragments)
            {
                var copy = (byte[])fragment.Clone();
                var at = copy.AsSpan().IndexOf(_tfxd);
                var time = BinaryPrimitives.ReadInt64BigEndian(copy.AsSpan(at + 20));
                BinaryPrimitives.WriteInt64BigEndian(copy.AsSpan(at + 20), time + (repeat * Loop));
                await WriteChunkAsync(stream, copy);
                pushed += copy.Length;
            }

            if (repeat is 40 or 120 or Repeats - 1)
            {
                var indexed = (repeat + 1) * fragments.Length;
                await Eventually.WaitUntilAsync(async () =>
                {
                    using var json = System.Text.Json.JsonDocument.Parse(await server.Http.GetStringAsync("api/points/live/mem.isml"));
                    return json.RootElement.GetProperty("tracks").EnumerateArray().Sum(t => t.GetProperty("fragments").GetInt32()) >= indexed;
                }, $"the server never indexed {indexed} fragments");
                GC.Collect();
                GC.WaitForPendingFinalizers();
                heap.Add(GC.GetTotalMemory(forceFullCollection: true));
            }
        }

        await stream.WriteAsync("0\r\n\r\n"u8.ToArray());
        var manifest = await SmoothManifestView.FetchVodAsync(server.Http, "live/mem.isml/Manifest");
        Assert.Equal(Repeats * 3, manifest.ChunkTimes("video").Length);

        // About 32 MB went through between the first and the last measurement; the window holds about 10 s of it.
        var growth = heap[^1] - heap[0];
        Assert.True(pushed > 35_000_000, $"pushed only {pushed} bytes");
        Assert.True(growth < 12_000_000, $"managed heap grew {growth / 1e6:0.0} MB while {pushed / 1e6:0} MB were pushed: [{string.Join(", ", heap.Select(h => (h / 1e6).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))}] MB");

        // The oldest fragment is out of memory and still served, from the archive.
        using var old = await server.Http.GetAsync(manifest.Url("video", 400000, 0));
        Assert.Equal(HttpStatusCode.OK, old.StatusCode);
    }

    private static async Task WriteChunkAsync(NetworkStream stream, byte[] data)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{data.Length:x}\r\n"));
        await stream.WriteAsync(data);
        await stream.WriteAsync("\r\n"u8.ToArray());
    }
}
