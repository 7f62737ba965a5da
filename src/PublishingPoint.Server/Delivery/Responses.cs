namespace PublishingPoint.Server.Delivery;

internal static class Responses
{
    public static Task BytesAsync(HttpContext context, string contentType, byte[] bytes, Transport.SpooledFile? file = null)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        response.ContentLength = bytes.Length;
        return HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : Transport.DirectSend.WriteBodyAsync(context, bytes, file);
    }
}
