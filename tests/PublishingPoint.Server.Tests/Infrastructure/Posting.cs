using System.Net;

namespace PublishingPoint.Server.Tests.Infrastructure;

public static class Posting
{
    /// <summary>POSTs a body chunked (no Content-Length), as a live encoder does.</summary>
    public static async Task<(HttpStatusCode Status, string Body)> PostChunkedAsync(HttpClient http, string url, byte[] body)
    {
        using var content = new StreamContent(new NonSeekableStream(body));
        using var response = await http.PostAsync(url, content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>A stream that hides its length, so HttpClient sends Transfer-Encoding: chunked.</summary>
    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data, writable: false)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }
    }
}
