namespace PublishingPoint.Benchmarks.Live;

/// <summary>A whole encoder body POSTed chunked (no Content-Length), as a live encoder sends it.</summary>
internal static class ChunkedPost
{
    public static async Task SendAsync(HttpClient http, string relativeUrl, byte[] body, CancellationToken cancellationToken)
    {
        using var content = Content(body);
        using var response = await http.PostAsync(new Uri(relativeUrl, UriKind.Relative), content, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new InvalidOperationException($"POST {relativeUrl}: {(int)response.StatusCode} {text}");
        }
    }

    /// <summary>The body as content without a length, so HttpClient sends it with Transfer-Encoding: chunked.</summary>
    public static HttpContent Content(byte[] body) => new StreamContent(new NonSeekableStream(body));

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
