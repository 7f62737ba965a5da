using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>Clients that reset their connection mid-answer cost nothing but their connection: no stack traces, no harm.</summary>
public sealed class DirectSendFailureTests
{
    [Fact]
    public async Task ClientsResettingMidResponse_LeaveNoErrorsInTheLog_AndServingGoesOn()
    {
        var capture = new LogCapture();
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<ILoggerProvider>(capture));
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/reset.isml/Streams(a)", await IsmvCapture.MakeAsync(6, 2000, 64))).Status);
        var segment = await server.Http.GetByteArrayAsync("live/reset.isml/hls/video-2000000/0.ts");
        Assert.True(segment.Length > 64 * 1024);

        var request = Encoding.ASCII.GetBytes("GET /live/reset.isml/hls/video-2000000/0.ts HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        for (var i = 0; i < 300; i++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            await socket.ConnectAsync(IPAddress.Loopback, server.BaseUrl.Port);
            await socket.SendAsync(request.Concat(request).Concat(request).ToArray());
            if (i % 2 == 1)
            {
                await socket.ReceiveAsync(new byte[1024]);
            }

            socket.LingerState = new LingerOption(true, 0); // close = RST
            socket.Close();
        }

        Assert.Equal(segment, await server.Http.GetByteArrayAsync("live/reset.isml/hls/video-2000000/0.ts"));
        var errors = capture.Entries.Where(e => e.Level >= LogLevel.Error || e.Exception is NotSupportedException).ToList();
        Assert.True(errors.Count == 0, string.Join('\n', errors.Take(5).Select(e => $"{e.Category} {e.Level}: {e.Message} {e.Exception}")));
    }
}
